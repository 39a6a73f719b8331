"""Pydantic models of every JSON file in the workspace.

Each file carries ``schema_version``; ``manage.py export_schemas`` writes their JSON
Schema to ``docs/schemas/``. Later features add their models here (dataset, split,
experiment, evaluation, export) and register them in ``ALL_SCHEMAS``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class WorkspaceFile(StrictModel):
    """``workspace.json``: marks a folder as a Studio workspace."""

    schema_version: Literal[1] = 1
    layout: Literal["studio-workspace"] = "studio-workspace"
    created_at: datetime = Field(default_factory=utcnow)


class ProjectFile(StrictModel):
    """``projects/<id>/project.json``."""

    schema_version: Literal[1] = 1
    id: str
    name: str = Field(min_length=1, max_length=100)
    task: str
    description: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"

    @property
    def terminal(self) -> bool:
        return self not in (JobStatus.queued, JobStatus.running)


class JobProgress(StrictModel):
    done: int = 0
    total: int = 0


class JobFile(StrictModel):
    """``jobs/<id>/job.json``: one long-running unit of work run by a worker."""

    schema_version: Literal[1] = 1
    id: str
    kind: str
    project_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    status: JobStatus = JobStatus.queued
    progress: JobProgress = Field(default_factory=JobProgress)
    message: str = ""
    error: str = ""
    result: dict[str, Any] = Field(default_factory=dict)
    cancel_requested: bool = False
    worker: str = ""
    attempts: int = 0
    last_event_id: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class JobEvent(StrictModel):
    """One line of ``jobs/<id>/events.jsonl``; ``id`` is the SSE event id (1, 2, 3…)."""

    id: int
    type: str
    at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)


def _all_schemas() -> dict[str, type[BaseModel]]:
    from studio.workspace import dataset_schemas as ds

    return {
        "workspace": WorkspaceFile,
        "project": ProjectFile,
        "job": JobFile,
        "job_event": JobEvent,
        "dataset": ds.DatasetFile,
        "image_record": ds.ImageRecord,
        "import_report": ds.ImportReport,
        "experiment": __import__(f"{__package__}.experiment_schemas", fromlist="*").ExperimentFile,
        "metric_row": __import__(f"{__package__}.experiment_schemas", fromlist="*").MetricRow,
        "split": __import__("studio.splits.schemas", fromlist=["SplitFile"]).SplitFile,
    }


ALL_SCHEMAS: dict[str, type[BaseModel]] = _all_schemas()
