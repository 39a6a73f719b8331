"""The runner's lease and failure rules, and reconciliation, in-process (no worker)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core.job_context import JobContext
from apps.core.services import job_emit
from apps.experiments import services, store
from apps.experiments.models import Experiment
from studio.datasets import store as dataset_store
from studio.storage import job_store
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus
from studio.storage.paths import Workspace
from studio.storage.schemas import JobStatus, utcnow
from tests.experiments.helpers import FAST_CONFIG

pytestmark = pytest.mark.django_db


def queued(pid: str, sid: str) -> ExperimentFile:
    exp = services.experiment_create(pid, sid, FAST_CONFIG)
    return services.experiment_start(pid, exp.id)


def ctx_for(
    job_id: str, params: dict[str, Any], events: list[tuple[str, dict[str, Any]]]
) -> JobContext:
    return JobContext(job_id, params["project_id"], params, emit=lambda t, d, c: events.append((t, d)),
                      is_cancel_requested=lambda: False)  # fmt: skip


def test_a_second_delivery_sees_the_live_lease_and_does_not_train(
    digits: tuple[str, str], workspace: Workspace
) -> None:
    pid, sid = digits
    exp = queued(pid, sid)
    assert exp.job_id

    def someone_else_trains(e: ExperimentFile) -> None:
        e.status = ExperimentStatus.running
        e.lease_owner = "other-host:123:job"
        e.heartbeat_at = utcnow()

    store.mutate(workspace, pid, exp.id, someone_else_trains)
    events: list[tuple[str, dict[str, Any]]] = []
    result = services.run_training_job(
        ctx_for(exp.job_id, job_store.load(workspace, exp.job_id).params, events)
    )
    assert result["status"] == "skipped" and "already training it" in result["message"]
    after = store.load(workspace, pid, exp.id)
    assert after.lease_owner == "other-host:123:job" and after.status == "running"
    assert not (store.experiment_dir(workspace, pid, exp.id) / "metrics.json").exists()
    assert events == []
    # a job that is not the experiment's current one never trains it either
    stale = services.run_training_job(
        ctx_for("jold", {"project_id": pid, "experiment_id": exp.id}, events)
    )
    assert stale["status"] == "skipped" and "belongs to job" in stale["message"]


def test_reconcile_marks_dead_runs_interrupted(
    digits: tuple[str, str], workspace: Workspace, settings: Any
) -> None:
    pid, sid = digits
    exp = queued(pid, sid)
    assert exp.job_id
    job_store.claim(workspace, exp.job_id, "w1")  # the worker took the job …

    def running(e: ExperimentFile) -> None:  # … and the lease, then died
        e.status = ExperimentStatus.running
        e.lease_owner = "w1:job"
        e.heartbeat_at = utcnow() - timedelta(seconds=settings.STUDIO_JOB_LEASE_SECONDS + 1)

    store.mutate(workspace, pid, exp.id, running)
    job_store.mutate(
        workspace, exp.job_id, lambda j: setattr(j, "heartbeat_at", utcnow() - timedelta(minutes=5))
    )
    listed = {e.id: e.status for e in Experiment.objects.filter(project_id=pid)}
    assert listed[exp.id] == "queued"  # the mirror has not seen it yet
    from apps.experiments.selectors import experiment_list

    rows = {e.id: e for e in experiment_list(pid)}
    assert rows[exp.id].status == "interrupted"
    after = store.load(workspace, pid, exp.id)
    assert after.status == "interrupted" and after.lease_owner is None and "resume" in after.error
    assert job_store.load(workspace, exp.job_id).status == JobStatus.interrupted  # its SSE ends
    assert after.status.resumable


def test_reconcile_follows_a_job_that_ended_without_the_experiment(
    digits: tuple[str, str], workspace: Workspace
) -> None:
    pid, sid = digits
    failed = queued(pid, sid)
    assert failed.job_id
    job_emit(
        failed.job_id, "failed", {}, {"status": JobStatus.failed, "error": "boom before training"}
    )
    cancelled = queued(pid, sid)
    assert cancelled.job_id
    job_emit(cancelled.job_id, "cancelled", {}, {"status": JobStatus.cancelled})
    counts = services.experiments_reconcile(pid)
    assert counts == {"failed": 1, "draft": 1}
    assert store.load(workspace, pid, failed.id).error == "boom before training"
    assert Experiment.objects.get(id=cancelled.id).status == "draft"


@pytest.mark.slow
def test_a_bad_image_fails_the_run_with_a_readable_reason(
    digits: tuple[str, str], workspace: Workspace
) -> None:
    pid, sid = digits
    record = next(dataset_store.iter_records(workspace, pid))
    (dataset_store.dataset_paths(workspace, pid).root / record.path).write_bytes(b"not a png")
    with pytest.raises(CommandError, match=rf"{record.original_name}.*could not be read"):
        call_command("train", pid, "--split", sid, "--epochs", "1", "--image-size", "16")
    (eid,) = store.experiment_ids(workspace, pid)
    exp = store.load(workspace, pid, eid)
    assert exp.status == "failed" and "could not be read" in exp.error and exp.lease_owner is None
    assert Experiment.objects.get(id=eid).error == exp.error
    assert not exp.status.resumable
