"""The files of an experiment's evaluation: paths, reads, atomic writes, its lock, checkpoints.

Files live in ``experiments/<exp_id>/evaluation/`` (schemas in
:mod:`studio.storage.evaluation_schemas`); ``experiments/<exp_id>/.evaluation.lock``
serialises every read-modify-write of them (it sits outside the folder so that a reset,
which deletes the folder, never deletes a lock someone waits on). ``results.json`` and
``aggregate.json`` are written before ``evaluation.json`` says ``completed``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio.errors import NotFound, ValidationFailed
from studio.storage.evaluation_schemas import (
    EvaluationAggregate,
    EvaluationRecord,
    EvaluationResults,
)
from studio.storage.experiment_schemas import ExperimentFile
from studio.storage.jsonio import read_model, write_json_atomic
from studio.storage.locks import resource_lock
from studio.storage.paths import Workspace, check_id, resolve_inside

_CKPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,150}\.ckpt$")

# ----------------------------------------------------------------- files & paths


@dataclass(frozen=True)
class EvaluationPaths:
    """Paths of one experiment's evaluation; creating it touches nothing."""

    experiment_dir: Path

    @property
    def root(self) -> Path:
        return self.experiment_dir / "evaluation"

    @property
    def record(self) -> Path:
        return self.root / "evaluation.json"

    @property
    def results(self) -> Path:
        return self.root / "results.json"

    @property
    def aggregate(self) -> Path:
        return self.root / "aggregate.json"

    @property
    def lock(self) -> Path:
        return self.experiment_dir / ".evaluation.lock"

    @property
    def checkpoints_dir(self) -> Path:
        return self.experiment_dir / "checkpoints"


def experiment_dir(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    return ws.project_dir(project_id) / "experiments" / check_id(experiment_id, "experiment")


def evaluation_paths(ws: Workspace, project_id: str, experiment_id: str) -> EvaluationPaths:
    return EvaluationPaths(experiment_dir(ws, project_id, experiment_id))


def read_experiment(ws: Workspace, project_id: str, experiment_id: str) -> ExperimentFile:
    """``experiment.json`` (NotFound if there is no such experiment, Damaged if unreadable)."""
    path = experiment_dir(ws, project_id, experiment_id) / "experiment.json"
    if not path.is_file():
        raise NotFound(
            f"No experiment {experiment_id!r} in this project",
            details={"experiment_id": experiment_id},
        )
    return read_model(path, ExperimentFile)


def experiment_ids(ws: Workspace, project_id: str) -> list[str]:
    folder = ws.project_dir(project_id) / "experiments"
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.is_dir() and (p / "experiment.json").is_file()
    )


def read_record(paths: EvaluationPaths) -> EvaluationRecord | None:
    """``evaluation.json``, or None when the experiment was never evaluated (or was reset)."""
    if not paths.record.is_file():
        return None
    return read_model(paths.record, EvaluationRecord)


def read_results(paths: EvaluationPaths) -> EvaluationResults:
    return read_model(paths.results, EvaluationResults)


def read_aggregate(paths: EvaluationPaths) -> EvaluationAggregate:
    return read_model(paths.aggregate, EvaluationAggregate)


def save_record(paths: EvaluationPaths, record: EvaluationRecord) -> None:
    record.updated_at = datetime.now(UTC)
    paths.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(paths.record, record)


def write_outputs(
    paths: EvaluationPaths, results: EvaluationResults, aggregate: EvaluationAggregate
) -> None:
    """Results and aggregate first: ``evaluation.json`` says ``completed`` only after them."""
    paths.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(paths.results, results)
    write_json_atomic(paths.aggregate, aggregate)


def clear_outputs(paths: EvaluationPaths) -> None:
    for path in (paths.results, paths.aggregate):
        path.unlink(missing_ok=True)


def delete_evaluation(paths: EvaluationPaths) -> bool:
    """Remove the evaluation folder (caller holds ``paths.lock``); True if there was one."""
    if not paths.root.exists():
        return False
    shutil.rmtree(paths.root)
    return True


def evaluation_lock(paths: EvaluationPaths) -> Any:
    if not paths.experiment_dir.is_dir():
        raise NotFound(f"No experiment {paths.experiment_dir.name!r} in this project")
    return resource_lock(paths.lock)


# ----------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointInfo:
    name: str
    size: int
    modified: datetime
    best: bool
    last: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "modified": self.modified,
                "best": self.best, "last": self.last}  # fmt: skip


def list_checkpoints(paths: EvaluationPaths, experiment: ExperimentFile) -> list[CheckpointInfo]:
    """The ``.ckpt`` files that exist now: best first, then last, then by name."""
    folder = paths.checkpoints_dir
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".ckpt") or not entry.is_file():
            continue
        try:
            stat = entry.stat()
        except FileNotFoundError:  # deleted while scanning
            continue
        rel = f"checkpoints/{entry.name}"
        found.append(
            CheckpointInfo(
                entry.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC),
                best=experiment.best_checkpoint == rel, last=experiment.last_checkpoint == rel,
            )
        )  # fmt: skip
    return sorted(found, key=lambda c: (not c.best, not c.last, c.name))


def checkpoint_path(paths: EvaluationPaths, name: str) -> Path:
    """The file of checkpoint ``name`` (a bare ``*.ckpt`` file name); NotFound if missing."""
    if not isinstance(name, str) or not _CKPT_NAME.match(name):
        raise ValidationFailed(
            f"{name!r} is not a checkpoint file name",
            code="invalid_checkpoint",
            details={"checkpoint": ["Use a file name from the checkpoint list, e.g. best.ckpt"]},
        )
    path = resolve_inside(paths.experiment_dir, "checkpoints", name)
    if not path.is_file():
        raise NotFound(
            f"Checkpoint {name} does not exist (any more) in this experiment",
            code="checkpoint_not_found",
            details={"checkpoint": [f"{name} is not in the checkpoint list"]},
        )
    return path
