"""Experiment files: ``projects/<pid>/experiments/<exp_id>/``.

- ``experiment.json`` (:class:`ExperimentFile`): what to train (task, split, config) and
  where the run stands (status, lease/heartbeat of the worker, checkpoints, best metric).
- ``metrics.json``: a JSON list of :class:`MetricRow`, one per finished epoch, rewritten
  atomically by the training core after every epoch.
- ``checkpoints/best.ckpt``, ``checkpoints/last.ckpt``: see ``studio.ml.checkpoints``.

``config`` is a ``studio.ml.hparams.TrainingConfig`` dumped to a dict; it is validated by
the ML core, not here, so that reading an experiment never imports torch.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from studio.storage.schemas import StrictModel, utcnow


class ExperimentStatus(StrEnum):
    draft = "draft"  # being edited, never queued
    queued = "queued"
    running = "running"
    completed = "completed"  # all epochs done (or early stopping)
    stopped = "stopped"  # the user stopped it; last.ckpt can resume it
    failed = "failed"  # ``error`` says why
    interrupted = "interrupted"  # the worker died; last.ckpt can resume it

    @property
    def resumable(self) -> bool:
        return self in (ExperimentStatus.stopped, ExperimentStatus.interrupted)


class MetricValue(StrictModel):
    name: str  # e.g. "val_accuracy"
    value: float
    epoch: int | None = None


class ExperimentFile(StrictModel):
    """``experiments/<exp_id>/experiment.json``."""

    schema_version: Literal[1] = 1
    id: str
    project_id: str
    name: str = Field(min_length=1, max_length=100)
    task: str
    split_id: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    status: ExperimentStatus = ExperimentStatus.draft
    job_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    lease_owner: str | None = None  # worker id holding the run; None when not running
    epochs_done: int = Field(default=0, ge=0)
    best_checkpoint: str | None = None  # relative to the experiment folder
    last_checkpoint: str | None = None
    best_metric: MetricValue | None = None
    final_metrics: dict[str, float] = Field(default_factory=dict)
    error: str = ""


class MetricRow(BaseModel):
    """One element of ``metrics.json``: the metrics of one finished epoch.

    Fixed keys plus one ``val_<metric>`` float per task metric (``val_accuracy``,
    ``val_f1``…); the extra keys are why this model allows extras (all floats).
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, float | None] = Field(init=False)

    epoch: int = Field(ge=1)  # 1-based; the row is written when this epoch finished
    train_loss: float | None = None
    val_loss: float | None = None  # None for tasks whose model computes its own loss
    lr: float
    time_s: float = Field(ge=0)  # wall time of the epoch (training + validation)
