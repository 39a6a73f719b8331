"""Pydantic models of every JSON file in the workspace.

Each file carries ``schema_version``; ``manage.py export_schemas`` writes the JSON
Schema of every model listed in ``studio.schema_index`` to ``docs/schemas/``. This module
imports no other schema module, so any schema module may build on ``StrictModel``.
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


class ProjectRole(StrEnum):
    """A member's role, weakest first: viewer (read), editor (change data), owner (manage)."""

    viewer = "viewer"
    editor = "editor"
    owner = "owner"


class ProjectMember(StrictModel):
    """One entry of ``project.json`` ``members``: a Django user name and its role."""

    username: str = Field(min_length=1, max_length=150)
    role: ProjectRole


class ProjectFile(StrictModel):
    """``projects/<id>/project.json``.

    ``members`` decides who may see the project (any role) and change it; a project with
    no members (created before membership existed) is visible to staff users only.
    """

    schema_version: Literal[1] = 1
    id: str
    name: str = Field(min_length=1, max_length=100)
    task: str
    description: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    members: list[ProjectMember] = Field(default_factory=list)


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
    # Set once the broker accepted the job; None = still in the workspace outbox (re-sent).
    enqueued_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class JobEvent(StrictModel):
    """One line of ``jobs/<id>/events.jsonl``; ``id`` is the SSE event id (1, 2, 3…)."""

    id: int
    type: str
    at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)
