"""The export-format contract and what every format shares (options, metadata, names).

A format turns an eval-mode PyTorch model into one file and can load that file back as a
:class:`LoadedExport` (a numpy-in, numpy-out runner plus the metadata stored in the file).
Validation, prediction and the benchmarks only ever use those two hooks.

Input/output contract of every exported model (also written into the file's metadata by
:func:`inference_metadata`, so the file alone is enough to use it):

- input ``images``: float32, NCHW, RGB, ``(batch, 3, S, S)`` with ``S = image_size``; the
  whole image squashed to S x S (bilinear, no crop), scaled to [0, 1], then normalised
  with ``mean``/``std`` per channel (Studio's training and evaluation do exactly this);
- one output whose name and meaning the task declares (``Task.export_output``): ``logits``
  (classification: float32 ``(batch, num_classes)``, raw scores in ``class_names`` order),
  ``score`` (anomaly detection: ``(batch, 1)`` in [0, 1], plus ``threshold`` in the metadata)
  or ``values`` (regression: ``(batch, targets)`` in original units, plus ``target_names``,
  ``target_mean``, ``target_std``). The graph is ``Task.export_module(model)``, so any
  post-processing (sigmoid, undoing the target z-score) is inside the file.

Which tasks export: any task the registry can load whose declared output is one
:mod:`studio.ml.export.outputs` knows (one tensor per image). Task-specific export options
(anomaly: ``threshold``) are the task's ``export_options`` and ``export_settings`` hooks
(:func:`task_settings`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
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
OUTPUT_NAME = "logits"  # classification's output (files without ``output_name`` have it)

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
    # the task's output contract (``export_output`` + ``export_settings``); None = ask the
    # task restored from ``meta.task_state`` (see :func:`task_output`)
    output: Mapping[str, str] | None = None

    @property
    def output_metadata(self) -> dict[str, str]:
        return dict(self.output) if self.output is not None else task_output(self.meta)

    @property
    def output_name(self) -> str:
        return self.output_metadata.get("output_name", OUTPUT_NAME)

    @property
    def class_ids(self) -> list[int]:
        ids = self.meta.task_state.get("class_ids")
        return [int(i) for i in ids] if ids else list(range(self.meta.num_outputs))

    @property
    def input_shape(self) -> list[int | str]:
        s = self.meta.image_size
        return ["batch", 3, s, s]


def check_task(name: str) -> Any:
    """The task (a fresh instance) if its models can be exported, else ``ValidationFailed``
    (``task_not_exportable``): the task must be one the registry can load, with an output
    :mod:`studio.ml.export.outputs` knows how to validate and present."""
    from studio.ml.export.outputs import kind_of
    from studio.ml.tasks.registry import load_task

    try:
        task = load_task(name)
    except ValidationFailed as exc:
        raise ValidationFailed(
            f"{name} models cannot be exported: {exc.message}", code="task_not_exportable"
        ) from exc
    output_name = task.export_output(1).get("output_name", "")
    if kind_of(output_name) is None:
        raise ValidationFailed(
            f"{task.label} models cannot be exported yet (their output {output_name!r} is not "
            "one value per image)",
            code="task_not_exportable",
        )
    return task


def task_settings(
    task: Any, options: Mapping[str, Any], evaluation: Callable[[], Any]
) -> dict[str, str]:
    """Metadata the task adds to its exports for these ``options`` (strings, maybe empty).

    Refuses options the task does not take (``Task.export_options``) with ``unknown_option``,
    then asks ``Task.export_settings`` (which validates them and may fall back on
    ``evaluation()``, the exported checkpoint's ``EvaluationAggregate`` or None).
    """
    given = {k: v for k, v in options.items() if v is not None and v != ""}  # "" = not given
    unknown = sorted(k for k in given if k not in task.export_options)
    if unknown:
        raise ValidationFailed(
            f"{task.label} exports take no {' or '.join(unknown)} option",
            code="unknown_option",
            details={k: [f"{task.label} exports do not use {k}"] for k in unknown},
        )
    return {str(k): str(v) for k, v in task.export_settings(given, evaluation).items()}


def task_output(meta: CheckpointMeta, settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """The task's output contract for a checkpoint: ``export_output`` plus ``settings``.

    Restores the task from ``meta.task_state`` (regression's mean/std live there).
    """
    from studio.ml.tasks.registry import load_task

    task = load_task(meta.task)
    task.load_state(meta.task_state)
    return {**task.export_output(meta.num_outputs), **(settings or {})}


def preprocessing_sentence(size: int, mean: list[float], std: list[float], normalize: bool) -> str:
    norm = f", subtract mean {mean} and divide by std {std} per channel" if normalize else ""
    return (
        f"Decode as RGB, resize the whole image to {size}x{size} (squash, bilinear, no crop), "
        f"scale to 0..1 (divide by 255){norm}; feed float32 NCHW (batch, 3, {size}, {size})."
    )


def inference_metadata(spec: ExportSpec) -> dict[str, str]:
    """Everything needed to use the exported file without Studio (string values only).

    Lists are JSON. Stored as ONNX ``metadata_props`` and as TorchScript extra file
    ``studio.json``; :mod:`studio.ml.export.predict` reads it back to preprocess. The keys
    after ``preprocessing`` are the task's (:attr:`ExportSpec.output_metadata`): for
    classification exactly ``output_name`` = ``logits`` and ``output``.
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
        **spec.output_metadata,
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
