"""Experiment reads. Lists come from the mirror (synced, then reconciled); one experiment
from its JSON. Reads repair what they can see is stale: an experiment whose trainer died
becomes ``interrupted`` here, within one lease of the death."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.workspace import ws
from apps.experiments import services, store
from apps.experiments.mirror import experiments_sync, mirror_experiment
from apps.experiments.models import Experiment
from studio.errors import NotFound, StudioError
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


def experiment_metrics_rows(exp: ExperimentFile) -> list[dict[str, object]]:
    """The metrics.json rows of an experiment already read."""
    return store.read_metrics(ws(), exp.project_id, exp.id)


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


def median_image_size(project_id: str) -> tuple[int, int] | None:
    """Median width and median height of the project's images (from the dataset mirror),
    or None before the first import."""
    from apps.datasets.mirror import dataset_sync
    from apps.datasets.models import Image

    dataset_sync(project_id)
    images = Image.objects.filter(project_id=project_id)
    count = images.count()
    if not count:
        return None
    middle = count // 2

    def median(field: str) -> int:
        return int(images.order_by(field).values_list(field, flat=True)[middle])

    return median("width"), median("height")


def split_sizes(project_id: str, split_id: str) -> tuple[int, int]:
    """(train, val) image counts of one of the project's splits (404 if it has no such split)."""
    from apps.splits import selectors as split_selectors

    split = split_selectors.split_list(project_id).filter(id=split_id, damaged=False).first()
    if split is None:
        raise NotFound(f"No split {split_id!r} in this project", details={"split_id": split_id})
    return split.train_count, split.val_count


def class_counts(project_id: str) -> list[int]:
    """Images per class (labelled images only), for the task's chance level."""
    from apps.datasets import selectors as dataset_selectors

    counts = dataset_selectors.class_counts(project_id)
    return [n for key, n in counts.items() if key is not None]


def newest_split(project_id: str) -> str | None:
    """Id of the project's newest usable split (None without one)."""
    from apps.splits import selectors as split_selectors

    splits = list(split_selectors.split_list(project_id).filter(damaged=False))
    return splits[-1].id if splits else None


def image_count(project_id: str) -> int:
    from apps.datasets.mirror import dataset_sync

    return dataset_sync(project_id).image_count
