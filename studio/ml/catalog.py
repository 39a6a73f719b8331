"""The model catalog: every architecture Studio can train, one line per model.

Contract:

- ``CATALOG`` maps a stable key (stored in experiment configs and checkpoints, so never
  rename one) to a :class:`ModelSpec`. Adding a model = one line in ``_SPECS``.
- Importing this module is cheap (no torch); :func:`instantiate` and :func:`build_model`
  import torchvision on first use.
- :func:`build_model` returns a torchvision classifier whose final ``Linear`` (``spec.head``)
  is replaced by a fresh one with ``num_outputs`` outputs; pretrained ImageNet weights are
  loaded only when asked and only from the local cache (see :mod:`studio.ml.weights`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.errors import ValidationFailed

if TYPE_CHECKING:
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """One trainable architecture.

    ``params`` is the parameter count of the torchvision model as published (ImageNet head),
    shown in the GUI as a size hint. ``builder`` is the ``torchvision.models`` function name,
    ``weights`` the weights enum member (``"ResNet18_Weights.IMAGENET1K_V1"``), ``head`` the
    dotted attribute path of the layer a task replaces with its own output layer.
    ``native_size`` is the square input side its ImageNet weights were trained at: the largest
    image size the Training page suggests for it (larger costs time for little gain).
    """

    key: str
    label: str
    description: str
    tasks: tuple[str, ...]
    params: int
    builder: str
    weights: str
    head: str
    native_size: int = 224

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able description for the API."""
        return {
            "key": self.key,
            "label": self.label,
            "description": self.description,
            "tasks": list(self.tasks),
            "parameters": self.params,
            "weights": self.weights,
            "native_size": self.native_size,
        }


# image-level tasks: one linear head on a backbone (classes, one anomaly logit, targets)
_CLS = ("classification", "anomaly_detection", "regression")
_SPECS = (
    ModelSpec("resnet18", "ResNet-18", "Fast, reliable baseline; a good first choice.", _CLS, 11_689_512, "resnet18", "ResNet18_Weights.IMAGENET1K_V1", "fc"),
    ModelSpec("resnet34", "ResNet-34", "Deeper ResNet: a little more accurate, about 2x slower than ResNet-18.", _CLS, 21_797_672, "resnet34", "ResNet34_Weights.IMAGENET1K_V1", "fc"),
    ModelSpec("resnet50", "ResNet-50", "Strong general-purpose model for larger datasets; needs a GPU.", _CLS, 25_557_032, "resnet50", "ResNet50_Weights.IMAGENET1K_V2", "fc"),
    ModelSpec("efficientnet_b0", "EfficientNet-B0", "High accuracy per parameter; slower to train than its size suggests.", _CLS, 5_288_548, "efficientnet_b0", "EfficientNet_B0_Weights.IMAGENET1K_V1", "classifier.1"),
    ModelSpec("efficientnet_b3", "EfficientNet-B3", "More accurate EfficientNet, best at 300 px; needs a GPU.", _CLS, 12_233_232, "efficientnet_b3", "EfficientNet_B3_Weights.IMAGENET1K_V1", "classifier.1", 300),
    ModelSpec("mobilenet_v3_small", "MobileNetV3-Small", "Tiny and very fast; for CPUs, phones and quick experiments.", _CLS, 2_542_856, "mobilenet_v3_small", "MobileNet_V3_Small_Weights.IMAGENET1K_V1", "classifier.3"),
    ModelSpec("mobilenet_v3_large", "MobileNetV3-Large", "Fast on CPUs and edge devices, more accurate than the small one.", _CLS, 5_483_032, "mobilenet_v3_large", "MobileNet_V3_Large_Weights.IMAGENET1K_V1", "classifier.3"),
)  # fmt: skip

CATALOG: dict[str, ModelSpec] = {spec.key: spec for spec in _SPECS}


def get_spec(key: str, task: str | None = None) -> ModelSpec:
    """The spec for ``key``; a ``ValidationFailed`` on ``model`` if unknown or not for ``task``."""
    spec = CATALOG.get(key)
    if spec is None:
        raise ValidationFailed(
            f"Unknown model {key!r}",
            details={"model": [f"Choose one of: {', '.join(CATALOG)}"]},
        )
    if task is not None and task not in spec.tasks:
        choices = ", ".join(s.key for s in models_for(task)) or "none yet"
        raise ValidationFailed(
            f"{spec.label} cannot be trained for the {task} task",
            details={"model": [f"Choose one of: {choices}"]},
        )
    return spec


def models_for(task: str) -> list[ModelSpec]:
    """Catalog entries usable for ``task``, in catalog order."""
    return [spec for spec in _SPECS if task in spec.tasks]


def instantiate(spec: ModelSpec, *, pretrained: bool) -> nn.Module:
    """The torchvision model as published, with ImageNet weights when ``pretrained``.

    Pretrained weights come from the local cache only; a missing file raises the readable
    ``ValidationFailed`` of :func:`studio.ml.weights.require_weights` (never a download
    attempt mid-training, never a stack trace).
    """
    import torchvision

    from studio.ml import weights as weights_mod

    model: nn.Module = torchvision.models.get_model(spec.builder, weights=None)
    if pretrained:
        state = weights_mod.load_state_dict(spec)
        model.load_state_dict(state)
    return model


def _parent_and_name(model: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    parent_path, _, name = dotted.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    return parent, name


def replace_head(model: nn.Module, spec: ModelSpec, num_outputs: int) -> nn.Module:
    """Swap the final ``Linear`` at ``spec.head`` for a fresh one with ``num_outputs`` outputs."""
    from torch import nn

    parent, name = _parent_and_name(model, spec.head)
    old = parent.get_submodule(name)
    if not isinstance(old, nn.Linear):  # a catalog line pointing at the wrong layer
        raise TypeError(f"{spec.key}: {spec.head} is {type(old).__name__}, not Linear")
    new = nn.Linear(old.in_features, num_outputs)
    setattr(parent, name, new)  # works for Sequential children ("1") too
    return new


def freeze_all_but(model: nn.Module, head: nn.Module) -> None:
    """Freeze every parameter outside ``head`` and make the backbone's BatchNorm constant.

    BatchNorm layers are swapped for ``FrozenBatchNorm2d`` (same state-dict keys) because a
    frozen backbone whose running statistics still drift with each batch is not frozen, and
    small fine-tuning batches make those statistics noisy.
    """
    from torch import nn
    from torchvision.ops.misc import FrozenBatchNorm2d

    head_ids = {id(p) for p in head.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in head_ids)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
                frozen.weight.copy_(child.weight.detach())
                frozen.bias.copy_(child.bias.detach())
                assert child.running_mean is not None and child.running_var is not None
                frozen.running_mean.copy_(child.running_mean)
                frozen.running_var.copy_(child.running_var)
                setattr(module, child_name, frozen)


def build_model(
    key: str,
    num_outputs: int,
    *,
    pretrained: bool = False,
    freeze_backbone: bool = False,
    task: str | None = None,
) -> nn.Module:
    """A catalog classifier with a fresh ``num_outputs``-wide head.

    ``freeze_backbone`` leaves only the new head trainable (see :func:`freeze_all_but`).
    Raises ``ValidationFailed`` for an unknown model, a model not offered for ``task``,
    ``num_outputs < 1``, or pretrained weights that are not on this machine.
    """
    spec = get_spec(key, task)
    if num_outputs < 1:
        raise ValidationFailed(
            "The model needs at least one output",
            details={"classes": ["Add at least one class to the dataset"]},
        )
    model = instantiate(spec, pretrained=pretrained)
    head = replace_head(model, spec, num_outputs)
    if freeze_backbone:
        freeze_all_but(model, head)
    return model


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
