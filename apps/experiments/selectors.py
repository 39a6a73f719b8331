"""Experiment reads. Lists come from the mirror (synced, then reconciled); one experiment
from its JSON. Reads repair what they can see is stale: an experiment whose trainer died
becomes ``interrupted`` here, within one lease of the death."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.workspace import ws
from apps.experiments import services, store
from apps.experiments.mirror import experiments_sync, mirror_experiment
from apps.experiments.models import Experiment
from studio.errors import StudioError
from studio.storage import job_store, project_store
from studio.storage.experiment_schemas import ExperimentFile
from studio.storage.paths import check_id
from studio.storage.schemas import JobFile


def experiment_list(project_id: str) -> QuerySet[Experiment]:
    """The project's experiments, newest first (404 for an unknown project)."""
    project_store.load(ws(), project_id)
    experiments_sync(project_id)
    services.experiments_reconcile(project_id)
    return Experiment.objects.filter(project_id=project_id).order_by("-created_at", "id")


def experiment_get(project_id: str, experiment_id: str) -> ExperimentFile:
    """One experiment from disk (404 unknown, 409 damaged), reconciled and mirrored."""
    project_store.load(ws(), project_id)
    check_id(experiment_id, "experiment")
    services.experiment_reconcile(project_id, experiment_id)
    found = store.inspect(ws(), project_id, experiment_id)
    if found.mtime_ns:
        mirror_experiment(project_id, found)
    return store.load(ws(), project_id, experiment_id)


def experiment_metrics(project_id: str, experiment_id: str) -> list[dict[str, object]]:
    experiment_get(project_id, experiment_id)
    return store.read_metrics(ws(), project_id, experiment_id)


def experiment_job(exp: ExperimentFile) -> JobFile | None:
    """The job of the current (or last) run, if its record still exists."""
    if not exp.job_id:
        return None
    try:
        return job_store.load(ws(), exp.job_id)
    except StudioError:
        return None


def experiment_runs(exp: ExperimentFile) -> list[store.RunEntry]:
    return store.read_runs(ws(), exp.project_id, exp.id)


def stop_requested(exp: ExperimentFile) -> bool:
    return store.stop_requested(ws(), exp.project_id, exp.id)
