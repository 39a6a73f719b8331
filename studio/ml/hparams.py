"""Training hyperparameters: one pydantic model shared by every task.

Contract:

- ``TrainingConfig()`` always validates: every field has a default that trains something
  sensible on CPU or GPU. A task adjusts defaults through ``Task.default_hparams()``;
  :func:`parse_config` layers user values over those defaults.
- :func:`parse_config` is the only way user input becomes a config: every problem becomes a
  ``ValidationFailed`` whose ``details`` map a field path (``"lr"``, ``"augment.rotation"``)
  to a list of human messages, which the API shows next to the form fields.
- Each field's ``description`` is its help text in the GUI; :func:`describe_fields` turns
  the model into plain JSON for ``GET /api/tasks/``.
- Unknown fields are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Any, Literal

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from studio.errors import ValidationFailed
from studio.ml.catalog import CATALOG

Optimizer = Literal["sgd", "adam", "adamw"]
Scheduler = Literal["cosine", "step", "onecycle", "none"]
Precision = Literal["32", "16-mixed", "bf16-mixed"]
ClassWeights = Literal["none", "balanced"]
RegressionLoss = Literal["mse", "l1", "huber"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Augmentations(_Config):
    """Random changes applied to training images only (validation/test images are not touched)."""

    hflip: bool = Field(default=True, description="Randomly mirror images left-right.")
    vflip: bool = Field(
        default=False,
        description="Randomly flip images upside down (aerial, microscopy, textures).",
    )
    rotation: float = Field(
        default=0.0, ge=0, le=180, description="Rotate by a random angle up to this many degrees."
    )
    color_jitter: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Strength of random brightness, contrast and saturation changes (0 = off).",
    )
    random_resized_crop: bool = Field(
        default=True, description="Train on random crops of the image, resized back to image size."
    )
    # Mild by default: a hard crop (0.08-0.5) can cut away what defines the class when the
    # object fills the frame; on digits 0.5 cost 3 points of test accuracy after 10 epochs.
    crop_min_scale: float = Field(
        default=0.75,
        ge=0.05,
        le=1,
        description="Smallest crop, as a fraction of the image area, for random resized crops.",
    )
    grayscale: float = Field(
        default=0.0, ge=0, le=1, description="Probability of turning an image grey (0 = off)."
    )
    random_erasing: float = Field(
        default=0.0, ge=0, le=1, description="Probability of blanking a random rectangle (0 = off)."
    )


class TrainingConfig(_Config):
    """Every knob of one training run. Stored as a dict in ``experiment.json``."""

    model: str = Field(
        default="resnet18", description="Architecture to train (see the model list)."
    )
    pretrained: bool = Field(
        default=False,
        description="Start from ImageNet weights (needs the weights file on this machine).",
    )
    freeze_backbone: bool = Field(
        default=False, description="Train only the new output layer; fast, for small datasets."
    )
    optimizer: Optimizer = Field(
        default="adamw", description="AdamW is a safe default; SGD can edge it out with tuning."
    )
    lr: float = Field(default=1e-3, gt=0, le=10, description="Peak learning rate.")
    weight_decay: float = Field(
        default=0.05, ge=0, le=1, description="L2 penalty on weights (not on biases or norms)."
    )
    momentum: float = Field(default=0.9, ge=0, lt=1, description="Momentum (SGD only).")
    scheduler: Scheduler = Field(
        default="cosine", description="How the learning rate changes after warm-up."
    )
    warmup_epochs: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="Epochs of linear learning-rate warm-up from near zero (at most half the run).",
    )
    step_size: int = Field(
        default=10, ge=1, le=1000, description="Step scheduler: epochs between learning-rate drops."
    )
    step_gamma: float = Field(
        default=0.1, gt=0, le=1, description="Step scheduler: factor applied at each drop."
    )
    epochs: int = Field(default=30, ge=1, le=1000, description="Passes over the training images.")
    batch_size: int = Field(default=32, ge=1, le=1024, description="Images per training step.")
    image_size: int = Field(
        default=224, ge=16, le=2048, description="Images are resized to this square size (pixels)."
    )
    early_stopping_patience: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Stop after this many epochs without improvement (0 = never stop early).",
    )
    seed: int = Field(
        default=42, ge=0, le=2**32 - 1, description="Random seed; same seed, same run."
    )
    precision: Precision = Field(
        default="32",
        description="32 = full precision; 16-mixed needs a CUDA GPU; bf16-mixed needs support.",
    )
    num_workers: int = Field(
        default=0, ge=0, le=64, description="Background processes that prepare batches (0 = none)."
    )
    label_smoothing: float = Field(
        default=0.0, ge=0, lt=1, description="Soften one-hot targets; 0.1 often helps (0 = off)."
    )
    class_weights: ClassWeights = Field(
        default="none", description="balanced = weigh rare classes up by inverse frequency."
    )
    loss: RegressionLoss = Field(
        default="mse",
        description="Regression loss on z-scored targets: mse; l1 (robust to outliers); huber.",
    )
    augment: Augmentations = Field(
        default_factory=lambda: Augmentations.model_validate({}),
        description="Training-time augmentations.",
    )

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in CATALOG:
            raise PydanticCustomError(
                "unknown_model",
                "Unknown model {model}; choose one of: {choices}",
                {"model": repr(value), "choices": ", ".join(CATALOG)},
            )
        return value

    @field_validator("precision")
    @classmethod
    def _precision_runs_here(cls, value: str, info: ValidationInfo) -> str:
        ctx = info.context or {}
        problem = precision_problem(value, cuda=ctx.get("cuda"))
        if problem:
            raise PydanticCustomError("precision_unsupported", problem)
        return value


@functools.cache
def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@functools.cache
def _bf16_supported(cuda: bool) -> bool:
    import torch

    if cuda:
        return bool(torch.cuda.is_bf16_supported())
    try:  # CPU autocast to bfloat16 exists in every recent torch build, but check rather than trust
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = torch.ones(2, 2) @ torch.ones(2, 2)
        return out.dtype == torch.bfloat16
    except (RuntimeError, TypeError):
        return False


def precision_problem(precision: str, *, cuda: bool | None = None) -> str | None:
    """Why ``precision`` cannot run on this machine (``cuda`` overrides detection), or None."""
    if precision == "32":
        return None
    has_cuda = _cuda_available() if cuda is None else cuda
    if precision == "16-mixed" and not has_cuda:
        return "16-mixed needs a CUDA GPU; use 32 or bf16-mixed on this machine"
    if precision == "bf16-mixed" and not _bf16_supported(has_cuda):
        where = "this GPU" if has_cuda else "this CPU build of PyTorch"
        return f"bf16-mixed is not supported by {where}; use 32"
    return None


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def errors_to_details(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic errors → ``{"field.path": [message, …]}`` (cross-field errors name their field)."""
    details: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        if not loc:
            loc = str((err.get("ctx") or {}).get("field", "config"))
        message = err.get("msg", "Invalid value")
        # pydantic's "Input should be …" reads oddly next to a form field
        message = message.removeprefix("Value error, ").replace("Input should be", "Must be")
        details.setdefault(loc, []).append(message)
    return details


def parse_config(
    data: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    *,
    cuda: bool | None = None,
) -> TrainingConfig:
    """Validate user values layered over task ``defaults``; ``ValidationFailed`` on any problem.

    ``cuda`` forces the device check for ``precision`` (None = detect this machine).
    """
    merged = _deep_merge(defaults or {}, data or {})
    try:
        return TrainingConfig.model_validate(merged, context={"cuda": cuda})
    except ValidationError as exc:
        details = errors_to_details(exc)
        fields = ", ".join(details)
        raise ValidationFailed(
            f"Some training settings are not valid: {fields}", details=details
        ) from None


def _field_info(name: str, field: Any, default: Any) -> dict[str, Any]:
    annotation = field.annotation
    out: dict[str, Any] = {"name": name, "default": default, "help": field.description or ""}
    if typing.get_origin(annotation) is Literal:
        out["type"] = "choice"
        out["choices"] = list(typing.get_args(annotation))
    else:
        out["type"] = {bool: "bool", int: "int", float: "float", str: "string"}.get(
            annotation, "string"
        )
    for meta in field.metadata:
        for attr, key in (("ge", "minimum"), ("gt", "exclusive_minimum")):
            if isinstance(meta, getattr(annotated_types, attr.capitalize())):
                out[key] = getattr(meta, attr)
        for attr, key in (("le", "maximum"), ("lt", "exclusive_maximum")):
            if isinstance(meta, getattr(annotated_types, attr.capitalize())):
                out[key] = getattr(meta, attr)
    return out


def describe_fields(
    defaults: Mapping[str, Any] | None = None, hidden: frozenset[str] = frozenset()
) -> dict[str, list[dict[str, Any]]]:
    """Plain JSON for the GUI: hyperparameters and augmentation toggles with task defaults.

    Returns ``{"hyperparameters": [...], "augmentations": [...]}``; each entry has ``name``,
    ``type`` (bool|int|float|string|choice), ``default``, ``help`` and, where they apply,
    ``choices``, ``minimum``/``maximum`` (inclusive) or ``exclusive_minimum``/``_maximum``.
    Fields named in ``hidden`` (settings the task ignores) are left out.
    """
    config = parse_config({}, defaults, cuda=False)
    hyper = [
        _field_info(name, field, getattr(config, name))
        for name, field in TrainingConfig.model_fields.items()
        if name != "augment" and name not in hidden
    ]
    aug = [
        _field_info(name, field, getattr(config.augment, name))
        for name, field in Augmentations.model_fields.items()
    ]
    return {"hyperparameters": hyper, "augmentations": aug}
