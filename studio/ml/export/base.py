"""The export-format contract and what every format shares (options, metadata, names).

A format turns an eval-mode PyTorch model into one file and can load that file back as a
:class:`LoadedExport` (a numpy-in, numpy-out runner plus the metadata stored in the file).
Validation, prediction and the benchmarks only ever use those two hooks.

Input/output contract of every exported model (also written into the file's metadata by
:func:`inference_metadata`, so the file alone is enough to use it):

- input ``images``: float32, NCHW, RGB, ``(batch, 3, S, S)`` with ``S = image_size``; the
  whole image squashed to S x S (bilinear, no crop), scaled to [0, 1], then normalised
  with ``mean``/``std`` per channel (Studio's training and evaluation do exactly this);
- output ``logits``: float32 ``(batch, num_classes)``, raw scores in ``class_names`` order
  (softmax over axis 1 gives probabilities).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import studio
from studio.errors import ValidationFailed

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn

    from studio.ml.checkpoints import CheckpointMeta

OPSET_MIN = 13  # older opsets lack ops torchvision models need with a dynamic batch
OPSET_MAX = 23  # the newest opset torch.onnx writes
OPSET_DEFAULT = 17
LEGACY_OPSET_MAX = 20  # the TorchScript-based torch.onnx exporter stops here
INPUT_NAME = "images"
OUTPUT_NAME = "logits"
SUPPORTED_TASKS = ("classification",)

Runner = Callable[["np.ndarray"], "np.ndarray"]


def check_opset(value: Any) -> int:
    """The opset as an int in [OPSET_MIN, OPSET_MAX], or ``ValidationFailed`` (``bad_opset``)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        value = None
    try:
        opset = int(value) if value is not None else None
    except ValueError:
        opset = None
    if opset is None or not OPSET_MIN <= opset <= OPSET_MAX:
        raise ValidationFailed(
            f"ONNX opset must be a whole number from {OPSET_MIN} to {OPSET_MAX} (got {value!r})",
            code="bad_opset",
            details={
                "opset": [f"Use {OPSET_MIN} to {OPSET_MAX}; {OPSET_DEFAULT} suits most runtimes"]
            },
        )
    return opset


@dataclass(frozen=True)
class ExportSpec:
    """What is exported: the checkpoint's metadata and where it came from."""

    meta: CheckpointMeta
    project_id: str
    experiment_id: str
    export_id: str
    checkpoint: str
    normalize: bool = True  # the task normalises inputs with mean/std
    opset: int | None = None  # ONNX only

    @property
    def class_ids(self) -> list[int]:
        ids = self.meta.task_state.get("class_ids")
        return [int(i) for i in ids] if ids else list(range(self.meta.num_outputs))

    @property
    def input_shape(self) -> list[int | str]:
        s = self.meta.image_size
        return ["batch", 3, s, s]


def check_task(task: str) -> None:
    if task not in SUPPORTED_TASKS:
        raise ValidationFailed(
            f"Export supports {', '.join(SUPPORTED_TASKS)} models so far, not {task}",
            code="task_not_exportable",
        )


def preprocessing_sentence(size: int, mean: list[float], std: list[float], normalize: bool) -> str:
    norm = f", subtract mean {mean} and divide by std {std} per channel" if normalize else ""
    return (
        f"Decode as RGB, resize the whole image to {size}x{size} (squash, bilinear, no crop), "
        f"scale to 0..1 (divide by 255){norm}; feed float32 NCHW (batch, 3, {size}, {size})."
    )


def inference_metadata(spec: ExportSpec) -> dict[str, str]:
    """Everything needed to use the exported file without Studio (string values only).

    Lists are JSON. Stored as ONNX ``metadata_props`` and as TorchScript extra file
    ``studio.json``; :mod:`studio.ml.export.predict` reads it back to preprocess.
    """
    m = spec.meta
    size = m.image_size
    return {
        "studio_version": studio.__version__,
        "task": m.task,
        "model": m.model,
        "project_id": spec.project_id,
        "experiment_id": spec.experiment_id,
        "export_id": spec.export_id,
        "checkpoint": spec.checkpoint,
        "class_names": json.dumps(m.class_names, ensure_ascii=False),
        "class_ids": json.dumps(spec.class_ids),
        "num_classes": str(m.num_outputs),
        "input_name": INPUT_NAME,
        "input_shape": json.dumps(spec.input_shape),
        "input_layout": "NCHW",
        "input_dtype": "float32",
        "color_order": "RGB",
        "image_size": str(size),
        "resize": f"squash the whole image to {size}x{size} pixels, bilinear (no crop, aspect ratio not kept)",
        "scale": "divide by 255 (values 0..1)",
        "normalize": "true" if spec.normalize else "false",
        "mean": json.dumps(m.mean),
        "std": json.dumps(m.std),
        "preprocessing": preprocessing_sentence(size, m.mean, m.std, spec.normalize),
        "output_name": OUTPUT_NAME,
        "output": (
            f"logits: float32 (batch, {m.num_outputs}), one raw score per class in class_names "
            "order; softmax over axis 1 gives probabilities"
        ),
    }


@dataclass(frozen=True)
class WrittenFile:
    """What a format reports after writing its file."""

    exporter: str
    opset_used: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class LoadedExport:
    """An exported file loaded for inference: ``run(float32 NCHW) -> float32 outputs``."""

    run: Runner
    metadata: dict[str, str]


class ExportFormat(ABC):
    """One export format. Subclasses set the class attributes and the two hooks."""

    key: ClassVar[str]
    extension: ClassVar[str]  # ".onnx"
    # downloads are always attachments with this server-decided type (never sniffed)
    media_type: ClassVar[str] = "application/octet-stream"

    @abstractmethod
    def export(
        self, model: nn.Module, example: torch.Tensor, dest: Path, spec: ExportSpec
    ) -> WrittenFile:
        """Write ``dest`` (atomically) from an eval-mode ``model``; ``example`` is a batch.

        Raises ``StudioError`` with a sentence when the model cannot be exported.
        """

    @abstractmethod
    def load(self, path: Path, folder: Path, *, threads: int | None = None) -> LoadedExport:
        """Load ``path`` (inside ``folder``) for inference on the CPU.

        Must refuse files that would read anything outside ``folder``.
        """
