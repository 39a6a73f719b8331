"""Experiment folders on disk: ``projects/<pid>/experiments/<exp_id>/``.

No Django here (only the workspace layer), so the worker, the CLI and the web process
share one implementation of the file rules:

- ``experiment.json`` (:class:`ExperimentFile`) is rewritten atomically, always under the
  experiment's own lock (``<exp_id>/.lock``) by :func:`mutate`. A per-experiment lock rather
  than the project lock: a trainer updates its experiment every few seconds (heartbeat) and
  must not queue behind a long dataset commit that holds the project lock.
- ``experiments/.lock`` serialises creation (name uniqueness) and deletion.
- ``runs.json``: the job ids that ran (or will run) this experiment, oldest first: the first
  start and every resume. The experiment's event stream walks them in this order.
- ``.stop``: present while a stop is requested; the trainer's ``should_stop`` sees it.
- ``metrics.json`` and ``checkpoints/`` are written by the training core.
- Deleted experiments move to ``projects/<pid>/.trash/experiments/<exp_id>--<stamp>/``
  (restorable by moving the folder back; the mirror follows on the next list).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from studio.errors import Damaged, NotFound, StudioError
from studio.storage.experiment_schemas import ExperimentFile
from studio.storage.jsonio import read_json, read_model, write_json_atomic
from studio.storage.locks import resource_lock
from studio.storage.paths import Workspace, check_id
from studio.storage.schemas import utcnow


class RunEntry(BaseModel):
    """One line of ``runs.json``: a job that runs the experiment."""

    job_id: str
    resume: bool = False
    queued_at: str = Field(default_factory=lambda: utcnow().isoformat())


@dataclass(frozen=True)
class ExperimentOnDisk:
    """What a scan finds: a valid experiment or a damaged one (with the reason)."""

    id: str
    mtime_ns: int
    experiment: ExperimentFile | None
    damage: str = ""


def experiments_dir(ws: Workspace, project_id: str) -> Path:
    return ws.project_dir(project_id) / "experiments"


def experiments_lock(ws: Workspace, project_id: str) -> Path:
    return experiments_dir(ws, project_id) / ".lock"


def experiment_dir(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    return experiments_dir(ws, project_id) / check_id(experiment_id, "experiment")


def experiment_file(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    return experiment_dir(ws, project_id, experiment_id) / "experiment.json"


def experiment_lock(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    return experiment_dir(ws, project_id, experiment_id) / ".lock"


def training_cache_dir(ws: Workspace, project_id: str) -> Path:
    """Shared image caches of the project's runs (keyed by image ids and size)."""
    return ws.project_dir(project_id) / ".cache" / "training"


def trash_dir(ws: Workspace, project_id: str) -> Path:
    return ws.project_dir(project_id) / ".trash" / "experiments"


def inspect(ws: Workspace, project_id: str, experiment_id: str) -> ExperimentOnDisk:
    path = experiment_file(ws, project_id, experiment_id)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return ExperimentOnDisk(experiment_id, 0, None, "experiment.json is missing")
    try:
        exp = read_model(path, ExperimentFile)
    except StudioError as exc:
        return ExperimentOnDisk(experiment_id, mtime, None, exc.message)
    if exp.id != experiment_id or exp.project_id != project_id:
        return ExperimentOnDisk(
            experiment_id, mtime, None, f"experiment.json names {exp.id!r} of {exp.project_id!r}"
        )
    return ExperimentOnDisk(experiment_id, mtime, exp)


def experiment_ids(ws: Workspace, project_id: str) -> list[str]:
    folder = experiments_dir(ws, project_id)
    if not folder.is_dir():
        return []
    return sorted(
        e.name
        for e in os.scandir(folder)
        if e.is_dir()
        and not e.name.startswith(".")
        and os.path.exists(os.path.join(e.path, "experiment.json"))
    )


def mtimes(ws: Workspace, project_id: str) -> dict[str, int]:
    """Experiment id -> mtime of its experiment.json, without parsing anything."""
    out: dict[str, int] = {}
    for eid in experiment_ids(ws, project_id):
        try:
            out[eid] = experiment_file(ws, project_id, eid).stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return out


def load(ws: Workspace, project_id: str, experiment_id: str) -> ExperimentFile:
    """The experiment (404 unknown, 409 damaged)."""
    found = inspect(ws, project_id, experiment_id)
    if found.experiment is None:
        if found.mtime_ns == 0:
            raise NotFound(
                f"No experiment {experiment_id!r} in this project",
                details={"experiment_id": experiment_id},
            )
        raise Damaged(f"Experiment {experiment_id!r} is damaged: {found.damage}")
    return found.experiment


def save(ws: Workspace, exp: ExperimentFile) -> None:
    exp.updated_at = utcnow()
    write_json_atomic(experiment_file(ws, exp.project_id, exp.id), exp)


def mutate(
    ws: Workspace,
    project_id: str,
    experiment_id: str,
    change: Callable[[ExperimentFile], bool | None],
) -> ExperimentFile:
    """Apply ``change`` under the experiment lock; it may return False to skip the write."""
    load(ws, project_id, experiment_id)  # 404 before creating a lock file anywhere
    with resource_lock(experiment_lock(ws, project_id, experiment_id)):
        exp = load(ws, project_id, experiment_id)
        if change(exp) is False:
            return exp
        save(ws, exp)
        return exp


def create(ws: Workspace, exp: ExperimentFile) -> None:
    folder = experiment_dir(ws, exp.project_id, exp.id)
    folder.mkdir(parents=True)
    write_json_atomic(folder / "experiment.json", exp)


def read_runs(ws: Workspace, project_id: str, experiment_id: str) -> list[RunEntry]:
    path = experiment_dir(ws, project_id, experiment_id) / "runs.json"
    try:
        data = read_json(path)
    except NotFound:
        return []
    except Damaged:
        return []
    return [RunEntry.model_validate(item) for item in data if isinstance(item, dict)]


def add_run(ws: Workspace, project_id: str, experiment_id: str, run: RunEntry) -> None:
    """Append a run (call under the experiment lock)."""
    runs = read_runs(ws, project_id, experiment_id)
    runs.append(run)
    path = experiment_dir(ws, project_id, experiment_id) / "runs.json"
    write_json_atomic(path, [r.model_dump(mode="json") for r in runs])


def stop_marker(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    return experiment_dir(ws, project_id, experiment_id) / ".stop"


def request_stop(ws: Workspace, project_id: str, experiment_id: str) -> None:
    stop_marker(ws, project_id, experiment_id).touch()


def clear_stop(ws: Workspace, project_id: str, experiment_id: str) -> None:
    stop_marker(ws, project_id, experiment_id).unlink(missing_ok=True)


def stop_requested(ws: Workspace, project_id: str, experiment_id: str) -> bool:
    return stop_marker(ws, project_id, experiment_id).exists()


def read_metrics(ws: Workspace, project_id: str, experiment_id: str) -> list[dict[str, Any]]:
    """Rows of ``metrics.json`` (empty before the first epoch ends)."""
    path = experiment_dir(ws, project_id, experiment_id) / "metrics.json"
    try:
        rows = read_json(path)
    except NotFound:
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def move_to_trash(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    """Move the experiment folder (checkpoints included) to the project's trash."""
    source = experiment_dir(ws, project_id, experiment_id)
    target_dir = trash_dir(ws, project_id)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{experiment_id}--{utcnow().strftime('%Y%m%dT%H%M%S%f')}"
    os.replace(source, target)
    return target
