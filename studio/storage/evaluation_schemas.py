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

from studio.storage.schemas import StrictModel, utcnow

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
    accuracy: float | None = None  # over the pooled subsets, once completed (class tasks)
    headline: str = Field(default="", description="the aggregate's headline metric name")
    headline_value: float | None = None
    error: str = ""


class TopK(StrictModel):
    class_id: int
    class_name: str
    probability: float


class ImageResult(StrictModel):
    """One evaluated image. Each task fills its own fields, the rest keep their defaults.

    - classification: the class fields, ``confidence`` (probability of the prediction), ``top_k``;
    - anomaly detection: the class fields over the two outcomes (0 = good, 1 = anomalous, the
      prediction at the evaluation's threshold), ``score`` = anomaly score in [0, 1] and
      ``confidence`` = the probability of the predicted outcome;
    - regression: ``targets`` and ``predictions`` (original units, target order) and ``error``
      = mean absolute error over the targets.
    """

    image_id: str
    file_name: str
    subset: EvalSubset
    true_class_id: int | None = None
    true_class: str = ""
    pred_class_id: int | None = None
    pred_class: str = ""
    confidence: float = Field(default=0.0, ge=0, le=1)
    correct: bool | None = None
    top_k: list[TopK] = Field(default_factory=list, max_length=MAX_TOP_K)
    score: float | None = None
    targets: list[float] | None = None
    predictions: list[float] | None = None
    error: float | None = None


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


class RocPoint(StrictModel):
    fpr: float
    tpr: float
    threshold: float


class AnomalyMetrics(StrictModel):
    """Threshold-free and thresholded scores of one subset (or ``all``), anomalous = positive."""

    count: int
    anomalous: int
    auroc: float | None = Field(description="None when only one outcome occurs")
    average_precision: float | None
    threshold: float = Field(description="the threshold the class fields and F1 use")
    f1: float
    precision: float
    recall: float
    youden_threshold: float | None = Field(description="maximises TPR - FPR")
    best_f1_threshold: float | None = Field(description="maximises F1")
    roc: list[RocPoint] = Field(default_factory=list, description="at most ~200 points")
    scores: list[float] = Field(default_factory=list, description="per image, for a live threshold")
    labels: list[int] = Field(default_factory=list, description="1 = anomalous, same order")


class TargetMetrics(StrictModel):
    name: str
    mae: float
    mse: float
    rmse: float
    r2: float | None = Field(description="None when the targets have no variance")


class HistogramBin(StrictModel):
    lower: float
    upper: float
    count: int


class RegressionMetrics(StrictModel):
    """Errors of one subset (or ``all``) in original units; the top level averages targets."""

    count: int
    mae: float
    mse: float
    rmse: float
    r2: float | None
    per_target: list[TargetMetrics]
    error_histogram: list[HistogramBin] = Field(
        default_factory=list, description="signed error (predicted - actual) of the first target"
    )
    scatter: list[tuple[float, float]] = Field(
        default_factory=list, description="(actual, predicted) of the first target, ≤ 2,000 points"
    )


class EvaluationAggregate(StrictModel):
    """``evaluation/aggregate.json``.

    ``overall``/``subsets`` hold class metrics (classification; anomaly detection at its
    threshold, over the classes good/anomalous); ``anomaly`` and ``regression`` hold the
    task's own metrics keyed by ``"all"`` and subset name. ``headline`` names the number a list
    shows for this evaluation.
    """

    schema_version: Literal[1] = 1
    checkpoint: str
    created_at: datetime = Field(default_factory=utcnow)
    task: str = "classification"
    class_ids: list[int] = Field(default_factory=list)
    class_names: list[str] = Field(default_factory=list)
    target_names: list[str] = Field(default_factory=list)
    overall: SubsetMetrics | None = None
    subsets: dict[str, SubsetMetrics] = Field(default_factory=dict)
    anomaly: dict[str, AnomalyMetrics] = Field(default_factory=dict)
    regression: dict[str, RegressionMetrics] = Field(default_factory=dict)
    threshold_source: str = Field(
        default="", description="anomaly: images the threshold was chosen on (val, all, default)"
    )
    headline: tuple[str, float | None] = ("accuracy", None)
