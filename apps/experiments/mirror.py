"""Keeping the experiment mirror equal to the workspace.

``experiments_sync(project_id)`` compares each experiment.json's mtime with the mirror and
re-reads only what changed, so list requests can call it every time.
"""

from __future__ import annotations

import contextlib

from apps.core.workspace import ws
from apps.experiments import store
from apps.experiments.models import Experiment
from apps.experiments.store import ExperimentOnDisk
from studio.errors import StudioError
from studio.storage.experiment_schemas import ExperimentFile


def mirror_experiment(project_id: str, found: ExperimentOnDisk) -> None:
    """Write one experiment (valid or damaged) into the mirror."""
    if found.experiment is None:
        Experiment.objects.update_or_create(
            id=found.id,
            defaults={"project_id": project_id, "name": found.id, "damaged": True,
                      "damage_reason": found.damage, "json_mtime_ns": found.mtime_ns},
        )  # fmt: skip
        return
    e = found.experiment
    best = e.best_metric
    Experiment.objects.update_or_create(
        id=e.id,
        defaults={
            "project_id": project_id, "name": e.name, "task": e.task,
            "split_id": e.split_id or "", "model": str(e.config.get("model", "")),
            "status": e.status.value, "job_id": e.job_id or "",
            "epochs": int(e.config.get("epochs", 0) or 0), "epochs_done": e.epochs_done,
            "best_metric_name": best.name if best else "",
            "best_metric_value": best.value if best else None,
            "best_epoch": best.epoch if best else None,
            "final_metrics": e.final_metrics, "error": e.error[:4000],
            "created_at": e.created_at, "updated_at": e.updated_at, "started_at": e.started_at,
            "finished_at": e.finished_at, "heartbeat_at": e.heartbeat_at,
            "damaged": False, "damage_reason": "", "json_mtime_ns": found.mtime_ns,
        },
    )  # fmt: skip


def mirror_one(exp: ExperimentFile) -> None:
    """Re-read one experiment from disk into the mirror (after a service wrote it)."""
    mirror_experiment(exp.project_id, store.inspect(ws(), exp.project_id, exp.id))


def experiments_sync(project_id: str, full: bool = False) -> int:
    """Bring the project's experiment rows in line with disk; returns how many changed."""
    known = dict(
        Experiment.objects.filter(project_id=project_id).values_list("id", "json_mtime_ns")
    )
    on_disk = store.mtimes(ws(), project_id)
    changed = 0
    for eid, mtime in sorted(on_disk.items()):
        if full or known.get(eid, -1) != mtime:
            mirror_experiment(project_id, store.inspect(ws(), project_id, eid))
            changed += 1
    gone = set(known) - set(on_disk)
    if gone:
        Experiment.objects.filter(id__in=gone).delete()
        changed += len(gone)
    return changed


def forget_experiment(experiment_id: str) -> None:
    Experiment.objects.filter(id=experiment_id).delete()


def rebuild_all() -> int:
    """Drop every experiment row and reload all projects; returns the experiment count."""
    Experiment.objects.all().delete()
    root = ws().projects_dir
    if root.exists():
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                with contextlib.suppress(StudioError):  # e.g. a folder name that is no id
                    experiments_sync(folder.name, full=True)
    return Experiment.objects.count()
