"""Evaluation files: ``projects/<pid>/experiments/<exp_id>/evaluation/``.

An experiment has at most one evaluation (1:1). Its folder holds:

- ``evaluation.json`` (:class:`EvaluationRecord`): what was asked (:class:`EvaluationConfig`),
  where it stands (status, job, timestamps, error) and which checkpoint was used.
- ``results.json`` (:class:`EvaluationResults`): one :class:`ImageResult` per evaluated image.
- ``aggregate.json`` (:class:`EvaluationAggregate`): metrics over the pooled subsets and per
  subset (:class:`SubsetMetrics`).

``results.json`` and ``aggregate.json`` exist only once the status is ``completed``; they are
written before ``evaluation.json`` says so, so a reader that sees ``completed`` finds both.
Reset deletes the whole folder.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from studio.workspace.schemas import StrictModel, utcnow

EvalSubset = Literal["train", "val", "test"]
Device = Literal["cpu", "cuda"]
MAX_BATCH_SIZE = 1024
MAX_TOP_K = 5
ECE_BINS = 15


class EvaluationStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"  # ``error`` says why
    cancelled = "cancelled"
    interrupted = "interrupted"  # the worker died

    @property
    def active(self) -> bool:
        return self in (EvaluationStatus.queued, EvaluationStatus.running)


def _default_subsets() -> list[EvalSubset]:
    return ["test"]


class EvaluationConfig(StrictModel):
    """What to evaluate: a checkpoint file name (in ``checkpoints/``), subsets, batch, device."""

    checkpoint: str = Field("best.ckpt", min_length=1, max_length=200)
    subsets: list[EvalSubset] = Field(default_factory=_default_subsets, min_length=1)
    batch_size: int = Field(64, ge=1, le=MAX_BATCH_SIZE)
    device: Device = "cpu"


class CheckpointRef(StrictModel):
    """The checkpoint file as it was when the evaluation started."""

    name: str
    size: int = 0
    modified: datetime | None = None
    epochs_done: int = 0
    model: str = ""
    image_size: int = 0


class EvaluationRecord(StrictModel):
    """``evaluation/evaluation.json``."""

    schema_version: Literal[1] = 1
    project_id: str
    experiment_id: str
    run_id: str = Field(description="new for every start: a stale worker's writes are dropped")
    status: EvaluationStatus = EvaluationStatus.queued
    config: EvaluationConfig
    job_id: str | None = None  # None for an in-process run (manage.py evaluate)
    runner: str = Field(default="", description="host:pid of an in-process run, to spot a dead one")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    checkpoint: CheckpointRef | None = None
    task: str = ""
    split_id: str | None = None
    subsets: dict[str, int] = Field(
        default_factory=dict, description="images evaluated per subset (known once running)"
    )
    skipped: int = Field(default=0, description="images of the subsets without a usable label")
    accuracy: float | None = None  # over the pooled subsets, once completed
    error: str = ""


class TopK(StrictModel):
    class_id: int
    class_name: str
    probability: float


class ImageResult(StrictModel):
    """One evaluated image (classification)."""

    image_id: str
    file_name: str
    subset: EvalSubset
    true_class_id: int
    true_class: str
    pred_class_id: int
    pred_class: str
    confidence: float = Field(ge=0, le=1)
    correct: bool
    top_k: list[TopK] = Field(default_factory=list, max_length=MAX_TOP_K)


class EvaluationResults(StrictModel):
    """``evaluation/results.json``: per-image results in evaluation order (subset, then id)."""

    schema_version: Literal[1] = 1
    checkpoint: str
    results: list[ImageResult] = Field(default_factory=list)


class ClassMetrics(StrictModel):
    class_id: int
    name: str
    precision: float
    recall: float
    f1: float
    support: int  # images whose true class is this one


class MacroMetrics(StrictModel):
    """Unweighted means over the classes that occur (as truth or as prediction)."""

    precision: float
    recall: float
    f1: float


class CalibrationBin(StrictModel):
    """One of the ``ECE_BINS`` equal-width confidence bins ``(lower, upper]``."""

    lower: float
    upper: float
    count: int
    accuracy: float | None = None
    confidence: float | None = None


class SubsetMetrics(StrictModel):
    """Metrics of one subset, or of the pooled subsets (``subset == "all"``)."""

    subset: str
    count: int
    correct: int
    accuracy: float
    macro: MacroMetrics
    per_class: list[ClassMetrics]
    confusion_matrix: list[list[int]] = Field(
        description="rows = true class, columns = predicted class, in class_names order"
    )
    ece: float
    calibration: list[CalibrationBin] = Field(default_factory=list)


class EvaluationAggregate(StrictModel):
    """``evaluation/aggregate.json``."""

    schema_version: Literal[1] = 1
    checkpoint: str
    created_at: datetime = Field(default_factory=utcnow)
    class_ids: list[int]
    class_names: list[str]
    overall: SubsetMetrics
    subsets: dict[str, SubsetMetrics]
