"""Export files in the workspace, and what an export reads from it.

Layout (``projects/<pid>/experiments/<exp_id>/``)::

    experiment.json                 read-only here (written by the experiments feature)
    checkpoints/best.ckpt …         the files an export can start from
    exports/<export_id>/export.json ``ExportFile``; the folder is the export
    exports/<export_id>/model.onnx  (or model.pt)
    .exports.lock                   serialises creating/deleting exports of the experiment
                                    (outside exports/ so deleting a folder never drops it)

Validation images come from the experiment's split: the ``test`` subset, else ``val``,
else every image of the split (:func:`validation_images`). Exports may also read the
experiment's completed evaluation (:func:`evaluation_of`; anomaly exports take its threshold).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.datasets import store as dataset_store
from studio.errors import Conflict, NotFound, StudioError, ValidationFailed
from studio.ml.export.validate import LabelledImage
from studio.splits import store as split_store
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus
from studio.storage.export_schemas import ExportFile
from studio.storage.jsonio import read_model, write_json_atomic
from studio.storage.paths import Workspace, check_id, resolve_inside
from studio.storage.schemas import utcnow

if TYPE_CHECKING:
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord
    from studio.storage.evaluation_schemas import EvaluationAggregate

TargetFn = Callable[["ImageRecord", "DatasetFile"], "int | None"]

EXPORT_JSON = "export.json"
_CKPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,150}\.ckpt$")
NOT_TRAINED = (ExperimentStatus.draft, ExperimentStatus.queued)


def experiment_dir(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    return ws.project_dir(project_id) / "experiments" / check_id(experiment_id, "experiment")


def exports_dir(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    return experiment_dir(ws, project_id, experiment_id) / "exports"


def export_dir(ws: Workspace, project_id: str, experiment_id: str, export_id: str) -> Path:
    return exports_dir(ws, project_id, experiment_id) / check_id(export_id, "export")


def exports_lock(ws: Workspace, project_id: str, experiment_id: str) -> Path:
    return experiment_dir(ws, project_id, experiment_id) / ".exports.lock"


# ----------------------------------------------------------------- experiments


def read_experiment(ws: Workspace, project_id: str, experiment_id: str) -> ExperimentFile:
    """``experiment.json`` (``NotFound`` if absent, ``Damaged`` if unreadable)."""
    path = experiment_dir(ws, project_id, experiment_id) / "experiment.json"
    if not path.is_file():
        raise NotFound(
            f"No experiment {experiment_id!r} in this project",
            details={"experiment_id": experiment_id},
        )
    return read_model(path, ExperimentFile)


def experiments(ws: Workspace, project_id: str) -> list[ExperimentFile]:
    """Every readable experiment of the project, newest first (damaged ones skipped)."""
    folder = ws.project_dir(project_id) / "experiments"
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        if entry.is_dir() and (entry / "experiment.json").is_file():
            try:
                found.append(read_experiment(ws, project_id, entry.name))
            except StudioError:
                continue
    return sorted(found, key=lambda e: (e.created_at, e.id), reverse=True)


def checkpoints(ws: Workspace, project_id: str, experiment_id: str) -> list[str]:
    """Checkpoint file names that exist: ``best.ckpt``, ``last.ckpt``, then others by name."""
    folder = experiment_dir(ws, project_id, experiment_id) / "checkpoints"
    if not folder.is_dir():
        return []
    names = [e.name for e in os.scandir(folder) if e.is_file() and _CKPT_NAME.match(e.name)]
    order = {"best.ckpt": 0, "last.ckpt": 1}
    return sorted(names, key=lambda n: (order.get(n, 2), n))


def require_exportable(ws: Workspace, experiment: ExperimentFile, checkpoint: str) -> Path:
    """The checkpoint file, after every check that can fail before the job starts."""
    if experiment.status in NOT_TRAINED:
        raise Conflict(
            f"Experiment {experiment.name!r} was never trained; train it first",
            code="not_trained",
        )
    if experiment.status == ExperimentStatus.running:
        raise Conflict(
            f"Experiment {experiment.name!r} is still training; wait until it has finished",
            code="experiment_running",
        )
    if not isinstance(checkpoint, str) or not _CKPT_NAME.match(checkpoint):
        raise ValidationFailed(
            f"{checkpoint!r} is not a checkpoint name",
            code="bad_checkpoint",
            details={"checkpoint": ["Use a file name such as best.ckpt or last.ckpt"]},
        )
    folder = experiment_dir(ws, experiment.project_id, experiment.id) / "checkpoints"
    path = resolve_inside(folder, checkpoint) if folder.is_dir() else folder / checkpoint
    if not path.is_file():
        have = checkpoints(ws, experiment.project_id, experiment.id)
        raise NotFound(
            f"Experiment {experiment.name!r} has no checkpoint {checkpoint}"
            + (f" (it has: {', '.join(have)})" if have else " (it has no checkpoints)"),
            code="checkpoint_missing",
            details={"checkpoint": checkpoint, "available": have},
        )
    return path


# --------------------------------------------------------------------- exports


@dataclass(frozen=True)
class ExportOnDisk:
    """A scan result: a valid export, or a damaged one with the reason."""

    id: str
    mtime_ns: int
    export: ExportFile | None
    damage: str = ""


def load_export(ws: Workspace, project_id: str, experiment_id: str, export_id: str) -> ExportFile:
    path = export_dir(ws, project_id, experiment_id, export_id) / EXPORT_JSON
    if not path.is_file():
        raise NotFound(
            f"No export {export_id!r} of this experiment", details={"export_id": export_id}
        )
    export = read_model(path, ExportFile)
    if (export.id, export.project_id, export.experiment_id) != (
        export_id,
        project_id,
        experiment_id,
    ):
        raise NotFound(
            f"No export {export_id!r} of this experiment", details={"export_id": export_id}
        )
    return export


def save_export(ws: Workspace, export: ExportFile) -> ExportFile:
    export.updated_at = utcnow()
    folder = export_dir(ws, export.project_id, export.experiment_id, export.id)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / EXPORT_JSON, export)
    return export


def scan_one(ws: Workspace, project_id: str, experiment_id: str, export_id: str) -> ExportOnDisk:
    """One export folder as a scan sees it (``NotFound`` if it has no ``export.json``)."""
    path = export_dir(ws, project_id, experiment_id, export_id) / EXPORT_JSON
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise NotFound(f"No export {export_id!r} of this experiment") from None
    try:
        return ExportOnDisk(export_id, mtime, load_export(ws, project_id, experiment_id, export_id))
    except StudioError as exc:
        return ExportOnDisk(export_id, mtime, None, exc.message)


def scan_exports(ws: Workspace, project_id: str, experiment_id: str) -> list[ExportOnDisk]:
    """Every export folder of the experiment (newest first; damaged ones carry a reason).

    A folder without ``export.json`` is skipped: it is being created or being deleted.
    """
    folder = exports_dir(ws, project_id, experiment_id)
    if not folder.is_dir():
        return []
    found: list[ExportOnDisk] = []
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.name.startswith("."):
            with contextlib.suppress(NotFound):
                found.append(scan_one(ws, project_id, experiment_id, entry.name))
    return sorted(
        found,
        key=lambda f: (f.export.created_at.timestamp() if f.export else 0.0, f.id),
        reverse=True,
    )


def model_path(ws: Workspace, export: ExportFile) -> Path:
    """The exported file (``NotFound`` if the export has none yet); never outside its folder."""
    folder = export_dir(ws, export.project_id, export.experiment_id, export.id)
    if not export.file or export.status != "completed":
        raise NotFound(
            f"Export {export.id!r} has no file (status: {export.status})", code="export_not_ready"
        )
    path = resolve_inside(folder, export.file)
    if not path.is_file():
        raise NotFound(f"The file of export {export.id!r} is missing", code="export_file_missing")
    return path


def remove_export(ws: Workspace, project_id: str, experiment_id: str, export_id: str) -> None:
    """Delete the export folder (the caller holds :func:`exports_lock`)."""
    folder = export_dir(ws, project_id, experiment_id, export_id)
    if not folder.is_dir():
        raise NotFound(
            f"No export {export_id!r} of this experiment", details={"export_id": export_id}
        )
    # rename first: a reader never sees a half-deleted export, a crash leaves a dot folder
    trash = folder.with_name(f".deleting-{export_id}")
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


# ------------------------------------------------------------ validation images


def validation_images(
    ws: Workspace, experiment: ExperimentFile, target_of: TargetFn | None = None
) -> tuple[str, list[LabelledImage]]:
    """``(subset, images)``: the split's test subset, else val, else all of its images.

    Without a split (or when the split file is gone) every dataset image is used. Each
    image's target is ``target_of(record, dataset)`` (an output's integer decision, e.g. the
    class index; None = unlabelled); without ``target_of`` every image is unlabelled.
    """
    pid = experiment.project_id
    paths = dataset_store.dataset_paths(ws, pid)
    records = {r.id: r for r in dataset_store.iter_records(ws, pid)}
    assignments: dict[str, str] | None = None
    if experiment.split_id:
        try:
            assignments = dict(split_store.load(ws, pid, experiment.split_id).assignments)
        except StudioError:
            assignments = None
    chosen, ids = "all", sorted(records)
    if assignments is not None:
        ids = sorted(i for i in assignments if i in records)
        for subset in ("test", "val"):
            members = [i for i in ids if assignments[i] == subset]
            if members:
                chosen, ids = subset, members
                break
    dataset = dataset_store.load_dataset(ws, pid) if target_of is not None else None
    images = []
    for image_id in ids:
        record = records[image_id]
        target = (
            target_of(record, dataset) if target_of is not None and dataset is not None else None
        )
        images.append(LabelledImage(paths.root / record.path, target))
    return chosen, images


def evaluation_of(
    ws: Workspace, project_id: str, experiment_id: str, checkpoint: str
) -> EvaluationAggregate | None:
    """The aggregate of the experiment's completed evaluation of ``checkpoint`` as it is now.

    None when there is none, it is not completed, it evaluated another checkpoint, or the
    checkpoint file changed since (another size: retrained); unreadable files count as none.
    """
    from studio.ml import evaluation_files as evaluate  # the evaluation feature owns them

    paths = evaluate.evaluation_paths(ws, project_id, experiment_id)
    try:
        record = evaluate.read_record(paths)
        if record is None or record.status != "completed" or record.checkpoint is None:
            return None
        ref = record.checkpoint
        current = paths.checkpoints_dir / checkpoint
        if ref.name != checkpoint or not current.is_file() or current.stat().st_size != ref.size:
            return None
        return evaluate.read_aggregate(paths)
    except (StudioError, OSError):
        return None
