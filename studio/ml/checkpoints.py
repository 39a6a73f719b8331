"""Checkpoint files: what they hold and how evaluation/export load them.

Contract:

- ``best.ckpt`` / ``last.ckpt`` are Lightning checkpoints (model ``state_dict`` under
  ``"state_dict"`` with a ``model.`` prefix, optimizer and scheduler state, loop state)
  plus Studio's ``"studio"`` entry: see :func:`build_metadata`. They hold only tensors
  and plain JSON-able values, so ``torch.load(path, weights_only=True)`` loads them; Studio
  never unpickles code from a checkpoint.
- :func:`load_for_inference` rebuilds the model from the metadata alone (task, catalog
  key, config, output count) and needs no pretrained weights file.
- Preprocessing for inference: resize to ``image_size`` square (squash), scale to [0, 1],
  normalise with ``mean``/``std`` when the task's ``normalize_inputs`` is true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import Damaged, NotFound

if TYPE_CHECKING:
    from torch import nn

    from studio.ml.hparams import TrainingConfig
    from studio.ml.tasks.base import Task

CHECKPOINT_FORMAT = 1
_MODEL_PREFIX = "model."


@dataclass(frozen=True)
class CheckpointMeta:
    """Studio's metadata of one checkpoint (the ``"studio"`` entry)."""

    task: str
    model: str
    config: dict[str, Any]
    num_outputs: int
    class_names: list[str]
    task_state: dict[str, Any]
    mean: list[float]
    std: list[float]
    image_size: int
    format: int = CHECKPOINT_FORMAT
    epochs_done: int = 0
    epoch_complete: bool = True
    metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointMeta:
        norm = data.get("normalization", {})
        return cls(
            task=str(data["task"]),
            model=str(data["model"]),
            config=dict(data["config"]),
            num_outputs=int(data["num_outputs"]),
            class_names=[str(n) for n in data.get("class_names", [])],
            task_state=dict(data.get("task_state", {})),
            mean=[float(v) for v in norm.get("mean", [])],
            std=[float(v) for v in norm.get("std", [])],
            image_size=int(data["image_size"]),
            format=int(data.get("format", CHECKPOINT_FORMAT)),
            epochs_done=int(data.get("epochs_done", 0)),
            epoch_complete=bool(data.get("epoch_complete", True)),
            metrics={k: float(v) for k, v in data.get("metrics", {}).items()},
        )


def build_metadata(
    *,
    task: Task,
    config: TrainingConfig,
    num_outputs: int,
    class_names: list[str],
    task_state: dict[str, Any],
    mean: list[float],
    std: list[float],
) -> dict[str, Any]:
    """The ``"studio"`` entry written into every checkpoint (plain JSON values only)."""
    import torch

    return {
        "format": CHECKPOINT_FORMAT,
        "task": task.name,
        "model": config.model,
        "config": config.model_dump(mode="json"),
        "num_outputs": num_outputs,
        "class_names": list(class_names),
        "task_state": task_state,
        "normalization": {"mean": list(mean), "std": list(std)},
        "image_size": config.image_size,
        "torch_version": str(torch.__version__),
    }


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) onto the CPU.

    ``NotFound`` if missing; ``Damaged`` if unreadable or not a Studio checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise NotFound(f"Checkpoint {path.name} does not exist", details={"path": str(path)})
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, unpickling refusal, …
        raise Damaged(
            f"Checkpoint {path.name} cannot be read: {exc}", details={"path": str(path)}
        ) from exc
    if not isinstance(ckpt, dict) or "studio" not in ckpt or "state_dict" not in ckpt:
        raise Damaged(f"{path.name} is not a Studio checkpoint", details={"path": str(path)})
    return ckpt


def read_metadata(path: Path) -> CheckpointMeta:
    """Only the metadata of a checkpoint (still loads the file)."""
    return CheckpointMeta.from_dict(read_checkpoint(path)["studio"])


def model_state_dict(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The bare model's state dict (without the LightningModule's ``model.`` prefix)."""
    return {
        k[len(_MODEL_PREFIX) :]: v
        for k, v in ckpt["state_dict"].items()
        if k.startswith(_MODEL_PREFIX)
    }


def load_for_inference(path: Path, *, device: str = "cpu") -> tuple[nn.Module, CheckpointMeta]:
    """``(model in eval mode on device, metadata)`` from a checkpoint.

    The task's state is restored too: ``load_task(meta.task)`` + ``load_state(meta.task_state)``
    gives a task whose ``predict`` maps outputs back to class ids.
    """
    from studio.ml.catalog import get_spec
    from studio.ml.hparams import TrainingConfig
    from studio.ml.tasks.registry import load_task

    ckpt = read_checkpoint(path)
    meta = CheckpointMeta.from_dict(ckpt["studio"])
    task = load_task(meta.task)
    task.load_state(meta.task_state)
    # never fetch pretrained weights to rebuild: the checkpoint has all the weights
    config = TrainingConfig.model_validate({**meta.config, "pretrained": False, "precision": "32"})
    model = task.build_model(get_spec(meta.model, meta.task), meta.num_outputs, config)
    try:
        model.load_state_dict(model_state_dict(ckpt), strict=True)
    except RuntimeError as exc:
        raise Damaged(
            f"Checkpoint {Path(path).name} does not match the {meta.model} architecture",
            details={"path": str(path), "error": str(exc)[:500]},
        ) from exc
    return model.to(device).eval(), meta
