"""Export files: ``projects/<pid>/experiments/<exp_id>/exports/<export_id>/``.

One folder per export holds the exported model file (``model.onnx`` or ``model.pt``) and
``export.json`` (:class:`ExportFile`): what was exported from which checkpoint, the file's
size and SHA-256, the validation results and the timings. ``export.json`` is written when
the export is requested (status ``queued``) and rewritten atomically at each stage; the
model file appears (atomic rename) before ``export.json`` says ``completed``.

Validation (see ``studio.ml.export.validate``):

- ``numeric``: PyTorch and the exported file on one batch of real images; every output
  element must satisfy ``|export - torch| <= atol + rtol * |torch|``.
- ``parity``: both on every image of a subset (test, else val, else all): the fraction of
  images whose predicted class is the same, and the accuracy of each.
- ``passed`` = numeric passed and parity agreement >= ``parity.threshold``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ExportStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
ImageSource = Literal["test", "val", "all", "random"]


class _Strict(BaseModel):
    # Own base (not ``schemas.StrictModel``) for the same import-cycle reason as
    # ``experiment_schemas``: ``schemas`` may one day register this module.
    model_config = ConfigDict(extra="forbid")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NumericCheck(_Strict):
    """Element-wise comparison of the outputs on one batch of images."""

    passed: bool
    source: ImageSource  # where the batch came from ("random" only when no image was readable)
    images: int = Field(ge=1)
    rtol: float
    atol: float
    max_abs_diff: float
    mismatched: int = Field(0, ge=0)  # output elements outside the tolerance


class ParityCheck(_Strict):
    """Predicted classes of PyTorch and of the export over a whole subset."""

    passed: bool
    subset: Literal["test", "val", "all"]
    images: int = Field(ge=0)
    agreement: float = Field(ge=0, le=1)  # images with the same answer (class/verdict/values)
    disagreements: int = Field(0, ge=0)
    threshold: float = Field(ge=0, le=1)
    labelled: int = Field(0, ge=0)  # images with a true label (accuracy is over these)
    accuracy_reference: float | None = None  # PyTorch on the checkpoint
    accuracy_export: float | None = None
    accuracy_delta: float | None = None  # export - reference


class Validation(_Strict):
    passed: bool
    message: str  # one sentence for people
    numeric: NumericCheck | None = None
    parity: ParityCheck | None = None


class ExportTimings(_Strict):
    load_s: float = 0.0  # reading the checkpoint
    export_s: float = 0.0  # writing the model file
    validate_s: float = 0.0
    total_s: float = 0.0


class ExportFile(_Strict):
    """``exports/<export_id>/export.json``."""

    schema_version: Literal[1] = 1
    id: str
    project_id: str
    experiment_id: str
    format: str  # a key of studio.ml.export.FORMATS ("onnx", "torchscript")
    status: ExportStatus = "queued"
    job_id: str | None = None
    checkpoint: str  # file name under checkpoints/ ("best.ckpt")
    opset: int | None = None  # requested ONNX opset (None for other formats)
    opset_used: int | None = None  # opset of the default domain in the written file
    exporter: str = ""  # e.g. "torch.onnx (TorchScript-based)", "torch.jit.trace"
    task: str = ""
    model: str = ""  # catalog key
    class_names: list[str] = Field(default_factory=list)
    input_name: str = ""
    output_name: str = ""
    input_shape: list[int | str] = Field(default_factory=list)  # ["batch", 3, 224, 224]
    # task-specific settings chosen at request time (anomaly: threshold, threshold_source)
    settings: dict[str, str] = Field(default_factory=dict)
    # the task's output contract as written into the file (output_name, output, settings…)
    output: dict[str, str] = Field(default_factory=dict)
    file: str | None = None  # file name inside the export folder
    download_name: str | None = None  # suggested name for downloads
    size: int | None = Field(default=None, ge=0)  # bytes
    sha256: str | None = None
    validation: Validation | None = None
    timings: ExportTimings = Field(default_factory=ExportTimings)
    studio_version: str = ""
    created_at: datetime = Field(default_factory=_utcnow)
    updated_at: datetime = Field(default_factory=_utcnow)
    finished_at: datetime | None = None
    error: str = ""
