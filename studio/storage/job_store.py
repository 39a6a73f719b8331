"""Job records and their event logs on disk (no Django).

A job is ``jobs/<id>/job.json`` plus an append-only ``events.jsonl``. Every
mutation happens under the job's lock, so the web process (cancel) and a worker
(progress) never lose each other's changes. Event ids are 1, 2, 3… per job and
double as SSE ``id:`` values for ``Last-Event-ID`` replay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from studio.storage.jsonio import read_model, write_json_atomic
from studio.storage.locks import resource_lock
from studio.storage.paths import Workspace, new_id
from studio.storage.schemas import JobEvent, JobFile, JobStatus, utcnow


def _job_file(ws: Workspace, job_id: str) -> Path:
    return ws.job_dir(job_id) / "job.json"


def _events_file(ws: Workspace, job_id: str) -> Path:
    return ws.job_dir(job_id) / "events.jsonl"


def _lock(ws: Workspace, job_id: str) -> Path:
    return ws.job_dir(job_id) / ".lock"


def create(ws: Workspace, kind: str, params: dict[str, Any], project_id: str | None) -> JobFile:
    job = JobFile(id=new_id("j"), kind=kind, params=params, project_id=project_id)
    folder = ws.job_dir(job.id)
    folder.mkdir(parents=True)
    write_json_atomic(folder / "job.json", job)
    return job


def load(ws: Workspace, job_id: str) -> JobFile:
    return read_model(_job_file(ws, job_id), JobFile)


def list_ids(ws: Workspace) -> list[str]:
    if not ws.jobs_dir.exists():
        return []
    return sorted(p.name for p in ws.jobs_dir.iterdir() if (p / "job.json").exists())


def mutate(ws: Workspace, job_id: str, change: Callable[[JobFile], bool | None]) -> JobFile:
    """Apply ``change`` to the job under its lock; it may return False to skip the write."""
    with resource_lock(_lock(ws, job_id)):
        job = load(ws, job_id)
        if change(job) is False:
            return job
        job.updated_at = utcnow()
        write_json_atomic(_job_file(ws, job_id), job)
        return job


def append_event(
    ws: Workspace,
    job_id: str,
    type_: str,
    data: dict[str, Any],
    change: Callable[[JobFile], None] | None = None,
) -> tuple[JobFile, JobEvent]:
    """Apply ``change`` to the job, append one event durably, bump ``last_event_id``.

    All under the job lock, and job.json is written after the event line: a reader
    that sees a finished status in job.json also finds the final event in the log.
    """
    with resource_lock(_lock(ws, job_id)):
        job = load(ws, job_id)
        if change is not None:
            change(job)
        event = JobEvent(id=job.last_event_id + 1, type=type_, data=data)
        line = (event.model_dump_json() + "\n").encode()
        fd = os.open(_events_file(ws, job_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        job.last_event_id = event.id
        job.updated_at = utcnow()
        write_json_atomic(_job_file(ws, job_id), job)
        return job, event


def read_events(ws: Workspace, job_id: str, offset: int = 0) -> tuple[list[JobEvent], int]:
    """Events from byte ``offset`` on, and the offset after the last complete line.

    A torn last line (a writer killed mid-append) is left for a later read.
    """
    path = _events_file(ws, job_id)
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return [], offset
    events: list[JobEvent] = []
    consumed = 0
    for raw in chunk.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break
        consumed += len(raw)
        try:
            events.append(JobEvent.model_validate(json.loads(raw)))
        except ValueError:
            continue
    return events, offset + consumed


def claim(ws: Workspace, job_id: str, worker: str) -> JobFile | None:
    """Move a queued job to running for ``worker``; None if it is not queued any more.

    Dramatiq delivers at least once: this is what makes a job run at most once.
    """
    claimed: list[bool] = []

    def change(job: JobFile) -> bool:
        if job.status != JobStatus.queued or job.cancel_requested:
            return False
        job.status = JobStatus.running
        job.worker = worker
        job.attempts += 1
        job.started_at = job.heartbeat_at = utcnow()
        claimed.append(True)
        return True

    job = mutate(ws, job_id, change)
    return job if claimed else None


def is_stale(job: JobFile, lease: timedelta) -> bool:
    """A running job whose worker has not sent a heartbeat within ``lease``."""
    return (
        job.status == JobStatus.running
        and job.heartbeat_at is not None
        and utcnow() - job.heartbeat_at > lease
    )
