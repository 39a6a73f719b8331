"""Export reads: experiments that can be exported, exports (from their JSON, mirror synced)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from apps.core.workspace import ws
from apps.evaluation.selectors import best_experiment
from apps.exports.mirror import exports_sync, mirror_export
from apps.projects import selectors as project_selectors
from studio.errors import StudioError
from studio.ml.export import format_info, get_format, runner, store
from studio.ml.export.base import check_task
from studio.ml.export.store import ExportOnDisk
from studio.storage import job_store
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus
from studio.storage.export_schemas import ExportFile


def experiment_get(project_id: str, experiment_id: str) -> ExperimentFile:
    """The experiment (404 for an unknown project or experiment, 409 if damaged)."""
    project_selectors.project_require(project_id)
    return store.read_experiment(ws(), project_id, experiment_id)


def exportable_experiments(project_id: str) -> list[dict[str, Any]]:
    """Completed experiments with at least one checkpoint, newest first.

    ``export_options`` lists the task-specific options its exports take (anomaly detection:
    ``threshold``); empty for tasks without any, or that cannot be exported.
    """
    project_selectors.project_require(project_id)
    out = []
    for e in store.experiments(ws(), project_id):
        names = store.checkpoints(ws(), project_id, e.id)
        if e.status != ExperimentStatus.completed or not names:
            continue
        out.append({
            "id": e.id, "name": e.name, "task": e.task, "model": e.config.get("model", ""),
            "image_size": e.config.get("image_size"), "status": e.status.value,
            "finished_at": e.finished_at, "checkpoints": names,
            "best_metric": e.best_metric.model_dump() if e.best_metric else None,
            "export_options": _export_options(e.task),
        })  # fmt: skip
    return out


def default_experiment(
    project_id: str, exportable: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """The entry of :func:`exportable_experiments` the Export page opens without
    ``?experiment=``: the best one by its monitored validation metric
    (``apps.evaluation.selectors.best_experiment``, the rule the Evaluation page uses too)."""
    ids = {e["id"] for e in exportable}
    best = best_experiment(e for e in store.experiments(ws(), project_id) if e.id in ids)
    return next((e for e in exportable if best is not None and e["id"] == best.id), None)


def _export_options(task_name: str) -> list[str]:
    try:
        task = check_task(task_name)
    except StudioError:
        return []
    return sorted(task.export_options)


def default_settings(project_id: str, experiment: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Per checkpoint of an :func:`exportable_experiments` entry: the settings an export gets
    without options (the anomaly threshold the evaluation chose, else 0.5)."""
    if not experiment["export_options"]:
        return {}
    found = store.read_experiment(ws(), project_id, experiment["id"])
    return {name: runner.default_settings(ws(), found, name) for name in experiment["checkpoints"]}


def effective(export: ExportFile) -> ExportFile:
    """The export as users should see it: one whose job ended without finishing it (worker
    killed, job cancelled while queued) shows as failed, with the job's reason."""
    if export.status not in ("queued", "running") or not export.job_id:
        return export
    try:
        job = job_store.load(ws(), export.job_id)
    except StudioError:
        return export
    if not job.status.terminal:
        return export
    reason = job.error or job.message or f"the job is {job.status.value}"
    return export.model_copy(
        update={"status": "cancelled" if job.status.value == "cancelled" else "failed",
                "error": f"The export job ended without finishing it: {reason}"}
    )  # fmt: skip


def export_scan(project_id: str, experiment_id: str) -> list[ExportOnDisk]:
    """Every export of the experiment, newest first (damaged ones carry the reason)."""
    experiment_get(project_id, experiment_id)
    found = exports_sync(project_id, experiment_id)
    return [
        ExportOnDisk(f.id, f.mtime_ns, effective(f.export), f.damage) if f.export else f
        for f in found
    ]


def export_get(project_id: str, experiment_id: str, export_id: str) -> ExportFile:
    experiment_get(project_id, experiment_id)
    export = store.load_export(ws(), project_id, experiment_id, export_id)
    with contextlib.suppress(StudioError):
        mirror_export(
            project_id, experiment_id, store.scan_one(ws(), project_id, experiment_id, export_id)
        )
    return effective(export)


def export_file(
    project_id: str, experiment_id: str, export_id: str
) -> tuple[Path, ExportFile, str]:
    """``(path, export, media type)`` of a completed export's file."""
    export = export_get(project_id, experiment_id, export_id)
    path = store.model_path(ws(), export)
    return path, export, get_format(export.format).media_type


def newest_passing(project_id: str, experiment_id: str, fmt: str = "onnx") -> ExportFile | None:
    """The newest completed export of ``fmt`` whose validation passed, if any."""
    format_info(fmt)
    for found in export_scan(project_id, experiment_id):
        x = found.export
        if (
            x
            and x.format == fmt
            and x.status == "completed"
            and x.validation
            and x.validation.passed
        ):
            return x
    return None
