"""Repairing experiments whose trainer is gone (worker killed, job ended early).

``experiments_reconcile()`` looks only at experiments the mirror says are queued/running and
decides from their job and heartbeat:

- running, and the job ended or the heartbeat is older than ``STUDIO_JOB_LEASE_SECONDS``
  → ``interrupted`` (resumable); a job still marked running but stale is marked
  ``interrupted`` too, which ends its event stream;
- queued, and the job failed → ``failed`` with the job's error; cancelled → back to
  ``draft`` (or ``stopped`` when a ``last.ckpt`` exists); interrupted → ``interrupted``.

Writes are conditional: if the trainer moved the experiment on meanwhile, its word wins.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from apps.core.services import job_emit
from apps.core.workspace import ws
from apps.experiments import store
from apps.experiments.mirror import mirror_one
from apps.experiments.models import Experiment
from apps.experiments.runner import LAST
from studio.errors import StudioError
from studio.storage import job_store
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus
from studio.storage.schemas import JobStatus, utcnow

ACTIVE = (ExperimentStatus.queued, ExperimentStatus.running)


def not_started_status(exp: ExperimentFile) -> ExperimentStatus:
    """Where a run that was stopped before it trained goes back to."""
    last = store.experiment_dir(ws(), exp.project_id, exp.id) / LAST
    return ExperimentStatus.stopped if last.is_file() else ExperimentStatus.draft


def _stale(exp: ExperimentFile, lease: timedelta) -> bool:
    beat = exp.heartbeat_at or exp.updated_at
    return utcnow() - beat > lease


def _interrupt_job(job_id: str, reason: str) -> None:
    """Same change as ``jobs_reconcile`` makes, so the job's event stream ends too."""
    job_emit(
        job_id, "interrupted", {"reason": reason},
        {"status": JobStatus.interrupted, "finished_at": utcnow(),
         "error": "Interrupted: the worker running it stopped (killed or crashed)."},
    )  # fmt: skip


def _verdict(exp: ExperimentFile, lease: timedelta) -> tuple[ExperimentStatus, str] | None:
    """What a queued/running experiment really is now, or None if it is fine."""
    job = None
    if exp.job_id:
        try:
            job = job_store.load(ws(), exp.job_id)
        except StudioError:
            job = None
    died = "The worker training it stopped (killed or crashed); resume continues from the last checkpoint."
    if job is not None and job.status == JobStatus.running and job_store.is_stale(job, lease):
        _interrupt_job(job.id, "the worker stopped sending heartbeats")
        job = job_store.load(ws(), job.id)
    if exp.status == ExperimentStatus.running:
        if (job is not None and job.status.terminal) or _stale(exp, lease):
            return ExperimentStatus.interrupted, died
        return None
    if job is None:  # queued without a job record: nothing will ever run it
        return (not_started_status(exp), "") if exp.job_id else None
    if job.status == JobStatus.cancelled:
        return not_started_status(exp), ""
    if job.status == JobStatus.failed:
        return ExperimentStatus.failed, job.error or "The training job failed before it started."
    if job.status.terminal:
        return ExperimentStatus.interrupted, died
    return None


def experiment_reconcile(project_id: str, experiment_id: str) -> ExperimentFile | None:
    """Repair one queued/running experiment whose trainer is gone; the experiment if changed."""
    lease = timedelta(seconds=settings.STUDIO_JOB_LEASE_SECONDS)
    try:
        exp = store.load(ws(), project_id, experiment_id)
    except StudioError:
        return None
    if exp.status not in ACTIVE:
        return None
    verdict = _verdict(exp, lease)
    if verdict is None:
        return None
    status, reason = verdict
    seen = (exp.status, exp.heartbeat_at, exp.job_id)

    def change(current: ExperimentFile) -> bool:
        if (current.status, current.heartbeat_at, current.job_id) != seen:
            return False  # the trainer moved on meanwhile: its word wins
        current.status = status
        current.lease_owner = None
        current.error = reason
        if status in (ExperimentStatus.failed, ExperimentStatus.interrupted):
            current.finished_at = utcnow()
        return True

    changed = store.mutate(ws(), project_id, experiment_id, change)
    store.clear_stop(ws(), project_id, experiment_id)
    mirror_one(changed)
    return changed


def experiments_reconcile(project_id: str | None = None) -> dict[str, int]:
    """Mark queued/running experiments whose trainer died ``interrupted`` (or ``failed`` /
    back to ``draft`` when their job failed / was cancelled before training).

    Cheap: only mirror rows that say queued/running are looked at. Called by the list
    selector, the experiment detail, the event stream and the ``studio`` command's loop.
    """
    rows = Experiment.objects.filter(status__in=[s.value for s in ACTIVE], damaged=False)
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    counts: dict[str, int] = {}
    for pid, eid in list(rows.values_list("project_id", "id")):
        changed = experiment_reconcile(pid, eid)
        if changed is not None:
            counts[changed.status.value] = counts.get(changed.status.value, 0) + 1
    return counts
