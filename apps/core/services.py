"""Job writes: job.json first, then the mirror, then the event on the channel layer.

``job_submit`` is called by feature services (import, training…); ``job_execute``
is called by the Dramatiq actor in a worker; ``jobs_reconcile`` by start-up.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from apps.core.job_context import JobCancelled, JobContext
from apps.core.job_kinds import JOB_KINDS
from apps.core.models import Job
from apps.core.workspace import ws
from studio.errors import BrokerUnavailable, NotFound, StudioError, ValidationFailed
from studio.runtime.redis_server import ping
from studio.storage import job_store
from studio.storage.schemas import JobFile, JobStatus, utcnow

log = logging.getLogger(__name__)


def job_group(job_id: str) -> str:
    """Channel-layer group that SSE listeners of one job join."""
    return f"job.{job_id}"


def mirror_job(job: JobFile) -> None:
    Job.objects.update_or_create(
        id=job.id,
        defaults={
            "kind": job.kind,
            "project_id": job.project_id or "",
            "status": job.status.value,
            "progress_done": job.progress.done,
            "progress_total": job.progress.total,
            "message": job.message[:2000],
            "error": job.error[:4000],
            "worker": job.worker,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "updated_at": job.updated_at,
        },
    )


def _publish(job_id: str, event_id: int) -> None:
    """Wake SSE listeners. Best effort: they also poll the log, so Redis trouble loses nothing."""
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(
                job_group(job_id), {"type": "job.event", "id": event_id}
            )
    except Exception:
        log.warning("could not publish event %s of job %s", event_id, job_id, exc_info=True)


def job_emit(
    job_id: str, type_: str, data: dict[str, Any], changes: dict[str, Any] | None = None
) -> JobFile:
    """Apply ``changes`` to job.json and append the event (one locked step), mirror, publish."""

    def apply(job: JobFile) -> None:
        for key, value in (changes or {}).items():
            setattr(job, key, value)
        if job.status == JobStatus.running:
            job.heartbeat_at = utcnow()

    job, event = job_store.append_event(ws(), job_id, type_, data, apply)
    mirror_job(job)
    _publish(job_id, event.id)
    return job


def _emit_quietly(
    job_id: str, type_: str, data: dict[str, Any], changes: dict[str, Any] | None
) -> None:
    job_emit(job_id, type_, data, changes)


BROKER_MESSAGE = (
    "The job queue (Redis) is not reachable, so nothing was started; "
    "Studio restarts it on its own — try again in a few seconds."
)


def broker_check(timeout: float = 0.5) -> None:
    """Raise :class:`BrokerUnavailable` (503) when Redis does not answer within ``timeout``.

    Feature services call it before they record anything, so a refused request leaves
    nothing behind (no report or experiment stuck in ``running``/``queued``).
    """
    if not ping(settings.REDIS_URL, timeout=timeout):
        raise BrokerUnavailable(BROKER_MESSAGE, details={"retry_after": 5})


def _enqueue(job_id: str) -> None:
    """Send ``run_job`` and record ``enqueued_at``; the job leaves the workspace outbox.

    Raises the broker's error when the send fails: the job stays in the outbox and the
    reconciler sends it once Redis answers again.
    """
    from apps.core.jobs import run_job  # the actor module imports services

    run_job.send(job_id)
    job_store.mutate(ws(), job_id, lambda j: setattr(j, "enqueued_at", utcnow()))


def job_submit(kind: str, params: dict[str, Any], project_id: str | None = None) -> JobFile:
    """Record a queued job and hand it to the broker.

    The workspace is the outbox: the record is written first, and if the send fails
    after it (Redis died in between) the job is still returned and the reconciler sends it
    later. A broker that is down before anything is written is a 503 ``broker_unavailable``.
    """
    if kind not in JOB_KINDS:
        raise ValidationFailed(f"Unknown job kind {kind!r}")
    broker_check()
    job = job_store.create(ws(), kind, params, project_id)
    job = job_emit(job.id, "queued", {"kind": kind})
    try:
        _enqueue(job.id)
    except Exception:
        log.warning("job %s stays in the outbox: the broker refused it", job.id, exc_info=True)
    return job


def job_cancel(job_id: str) -> JobFile:
    """A queued job is cancelled at once; a running one is asked to stop."""

    def change(job: JobFile) -> bool:
        if job.status.terminal:
            return False
        job.cancel_requested = True
        if job.status == JobStatus.queued:
            job.status = JobStatus.cancelled
            job.finished_at = utcnow()
        return True

    _load(job_id)
    job = job_store.mutate(ws(), job_id, change)
    return job_emit(job_id, "cancel_requested", {"status": job.status.value})


def _load(job_id: str) -> JobFile:
    try:
        return job_store.load(ws(), job_id)
    except NotFound:
        raise NotFound(f"No job {job_id!r}", details={"job_id": job_id}) from None


def _resolve(kind: str) -> Callable[[JobContext], dict[str, Any] | None]:
    module, _, attr = JOB_KINDS[kind].partition(":")
    handler: Callable[[JobContext], dict[str, Any] | None] = getattr(
        importlib.import_module(module), attr
    )
    return handler


def _heartbeat(job_id: str, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            job_store.mutate(ws(), job_id, lambda j: setattr(j, "heartbeat_at", utcnow()))
        except Exception:
            log.warning("heartbeat of job %s failed", job_id, exc_info=True)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def job_execute(job_id: str) -> None:
    """Run one job in this worker, at most once (the claim is atomic on job.json)."""
    job = job_store.claim(ws(), job_id, worker_name())
    if job is None:
        log.info("job %s is not queued any more; skipping a duplicate delivery", job_id)
        return
    job_emit(job_id, "started", {"worker": job.worker})
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(job_id, stop, settings.STUDIO_JOB_LEASE_SECONDS / 3), daemon=True
    )
    beat.start()
    ctx = JobContext(
        job_id,
        job.project_id,
        job.params,
        emit=lambda t, d, c: _emit_quietly(job_id, t, d, c),
        is_cancel_requested=lambda: job_store.load(ws(), job_id).cancel_requested,
    )
    try:
        result = _resolve(job.kind)(ctx) or {}
    except JobCancelled as exc:
        _finish(job_id, JobStatus.cancelled, message=exc.message)
    except StudioError as exc:
        _finish(job_id, JobStatus.failed, error=exc.message)
    except Exception as exc:
        log.exception("job %s failed", job_id)
        _finish(job_id, JobStatus.failed, error=f"{type(exc).__name__}: {exc}")
    else:
        _finish(job_id, JobStatus.succeeded, result=result)
    finally:
        stop.set()


def _finish(
    job_id: str,
    status: JobStatus,
    *,
    message: str = "",
    error: str = "",
    result: dict[str, Any] | None = None,
) -> None:
    changes: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error}
    if message:
        changes["message"] = message
    if result is not None:
        changes["result"] = result
    job_emit(
        job_id,
        status.value,
        {"status": status.value, "error": error, "result": result or {}},
        changes,
    )


OUTBOX_GRACE = timedelta(seconds=5)  # job_submit sends right after writing; don't race it


def jobs_reconcile(requeue: bool = True) -> dict[str, int]:
    """Repair: mirror every job, mark dead running jobs interrupted, send queued ones.

    ``requeue=True`` (start-up, and after the supervisor restarted Redis, which may have
    lost the last second of messages) re-sends every queued job; otherwise only those still
    in the outbox (``enqueued_at`` unset: the broker was down when they were submitted).
    Re-sending is safe because a duplicate delivery is skipped by the claim. A broker that is
    still down leaves them in the outbox for the next round.
    """
    lease = timedelta(seconds=settings.STUDIO_JOB_LEASE_SECONDS)
    counts = {"mirrored": 0, "interrupted": 0, "requeued": 0, "pending": 0}
    broker_up: bool | None = None
    for job_id in job_store.list_ids(ws()):
        try:
            job = job_store.load(ws(), job_id)
        except StudioError:
            continue
        if job_store.is_stale(job, lease):
            job = job_emit(
                job_id,
                "interrupted",
                {"reason": "the worker stopped sending heartbeats"},
                {
                    "status": JobStatus.interrupted,
                    "finished_at": utcnow(),
                    "error": "Interrupted: the worker running it stopped (killed or crashed).",
                },
            )
            counts["interrupted"] += 1
        elif job.status == JobStatus.queued and (
            requeue or (job.enqueued_at is None and utcnow() - job.created_at > OUTBOX_GRACE)
        ):
            if broker_up is None:
                broker_up = ping(settings.REDIS_URL, timeout=0.5)
            try:
                if not broker_up:
                    raise ConnectionError("the broker does not answer")
                _enqueue(job_id)
                counts["requeued"] += 1
            except Exception as exc:
                log.warning("job %s stays in the outbox: %s", job_id, exc)
                counts["pending"] += 1
                broker_up = False
        mirror_job(job)
        counts["mirrored"] += 1
    return counts
