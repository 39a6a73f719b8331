"""The dataset folder of one project: reading it, and committing a staged import.

Layout: see :mod:`studio.storage.dataset_schemas`. Besides it, two private folders
live under ``dataset/`` on the same filesystem (so renames are atomic):
``.staging/<import_id>/`` (images, thumbnails and records of an import being built)
and ``.uploads/<import_id>/`` (an uploaded zip or files waiting for their job).

Commit contract (:func:`commit_import`), under the project lock:

1. staged files are made durable (one ``syncfs``), a journal names the records
   about to appear, then every image, thumbnail and record is renamed into place;
2. the import report is written, then ``dataset.json`` (atomically) — this is the
   commit point: a record counts only once its import is listed in ``dataset.json``;
3. the journal is removed. If the process dies between 1 and 2, the next commit
   (or :func:`recover`) deletes the records the journal names; content-addressed
   images and thumbnails left behind are harmless and reused by a later import.

A failed import therefore leaves ``dataset.json``, ``images/``, ``thumbs/`` and
``meta/`` exactly as they were; only its report (status ``failed``) is written.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.datasets.images import ProcessedImage
from studio.errors import NotFound, ValidationFailed
from studio.storage.dataset_schemas import (
    Annotations,
    ClassInfo,
    DatasetFile,
    ImageRecord,
    ImportIssue,
    ImportReport,
    ImportSummary,
)
from studio.storage.jsonio import read_json, read_model, write_json_atomic
from studio.storage.locks import resource_lock
from studio.storage.paths import Workspace, check_id
from studio.storage.schemas import utcnow

log = logging.getLogger(__name__)

PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip


@dataclass(frozen=True)
class DatasetPaths:
    """Paths inside ``projects/<project_id>/dataset/``; creating it touches nothing."""

    root: Path

    @property
    def dataset_file(self) -> Path:
        return self.root / "dataset.json"

    @property
    def meta_dir(self) -> Path:
        return self.root / "meta"

    @property
    def imports_dir(self) -> Path:
        return self.root / "imports"

    @property
    def journal(self) -> Path:
        return self.root / ".commit-journal.json"

    def staging(self, import_id: str) -> Path:
        return self.root / ".staging" / check_id(import_id, "import")

    def uploads(self, import_id: str) -> Path:
        return self.root / ".uploads" / check_id(import_id, "import")

    def image_rel(self, sha: str, ext: str) -> str:
        return f"images/{sha[:2]}/{sha}.{ext}"

    def thumb_rel(self, sha: str) -> str:
        return f"thumbs/{sha[:2]}/{sha}.jpg"

    def record_path(self, image_id: str) -> Path:
        return self.meta_dir / image_id[:2] / f"{image_id}.json"

    def report_path(self, import_id: str) -> Path:
        return self.imports_dir / f"{check_id(import_id, 'import')}.json"


def dataset_paths(ws: Workspace, project_id: str) -> DatasetPaths:
    return DatasetPaths(ws.project_dir(project_id) / "dataset")


def load_dataset(ws: Workspace, project_id: str) -> DatasetFile:
    """``dataset.json``, or an empty dataset when nothing was imported yet."""
    path = dataset_paths(ws, project_id).dataset_file
    if not path.exists():
        return DatasetFile(project_id=project_id)
    return read_model(path, DatasetFile)


def read_record(paths: DatasetPaths, image_id: str) -> ImageRecord:
    path = paths.record_path(image_id)
    if not path.exists():
        raise NotFound(f"No image {image_id!r}", details={"image_id": image_id})
    return read_model(path, ImageRecord)


def committed_import_ids(dataset: DatasetFile) -> set[str]:
    return {s.id for s in dataset.imports if s.status == "committed"}


def iter_records(ws: Workspace, project_id: str) -> Iterator[ImageRecord]:
    """Every committed record of the dataset (unreadable files and orphans are skipped)."""
    paths = dataset_paths(ws, project_id)
    committed = committed_import_ids(load_dataset(ws, project_id))
    if not paths.meta_dir.exists():
        return
    for bucket in sorted(paths.meta_dir.iterdir()):
        for path in sorted(bucket.glob("*.json")):
            try:
                record = ImageRecord.model_validate(read_json(path))
            except Exception:
                continue
            if record.import_id in committed:
                yield record


def list_reports(paths: DatasetPaths) -> list[ImportReport]:
    """All import reports (committed, failed and running), oldest first."""
    if not paths.imports_dir.exists():
        return []
    reports = []
    for path in paths.imports_dir.glob("*.json"):
        with contextlib.suppress(Exception):
            reports.append(read_model(path, ImportReport))
    return sorted(reports, key=lambda r: (r.started_at, r.id))


def read_report(paths: DatasetPaths, import_id: str) -> ImportReport:
    path = paths.report_path(import_id)
    if not path.exists():
        raise NotFound(f"No import {import_id!r}", details={"import_id": import_id})
    return read_model(path, ImportReport)


def write_report(paths: DatasetPaths, report: ImportReport) -> None:
    write_json_atomic(paths.report_path(report.id), report)


def summary_of(report: ImportReport) -> ImportSummary:
    return ImportSummary(
        id=report.id, format=report.format, source=report.source, status=report.status,
        added=report.added, duplicates=report.duplicates, skipped=report.skipped,
        finished_at=report.finished_at,
    )  # fmt: skip


def plan_classes(dataset: DatasetFile, names: list[str]) -> tuple[list[int], list[ClassInfo]]:
    """Map an import's class names to dataset ids; existing names keep their id, new ones append.

    Names match case-sensitively after stripping. Returns (global id per local
    index, the full class list after the import).
    """
    classes = [c.model_copy() for c in dataset.classes]
    by_name = {c.name: c.id for c in classes}
    next_id = max((c.id for c in classes), default=-1) + 1
    mapping: list[int] = []
    for name in names:
        if name not in by_name:
            classes.append(ClassInfo(id=next_id, name=name, color=PALETTE[next_id % len(PALETTE)]))
            by_name[name] = next_id
            next_id += 1
        mapping.append(by_name[name])
    return mapping, classes


def remap(annotations: Annotations, mapping: list[int]) -> Annotations:
    """Local class indexes (as the importer wrote them) to dataset class ids."""
    if mapping == list(range(len(mapping))):
        return annotations  # the usual case: nothing to renumber
    a = annotations.model_copy(deep=True)
    if a.label is not None:
        a.label = mapping[a.label]
    for box in a.boxes:
        box.class_id = mapping[box.class_id]
    for rotated in a.oriented_boxes:
        rotated.class_id = mapping[rotated.class_id]
    for instance in a.instances:
        instance.class_id = mapping[instance.class_id]
    return a


_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def sync_filesystem(path: Path) -> None:
    """Flush everything written on ``path``'s filesystem (``syncfs``; ``sync`` elsewhere)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if getattr(_libc, "syncfs", None) is None or _libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


@dataclass
class StagedItem:
    """One processed, non-duplicate image waiting in the staging folder."""

    original_name: str
    image: ProcessedImage
    annotations: Annotations  # class ids are local indexes into the import's class names


@dataclass
class StagedImport:
    import_id: str
    class_names: list[str]
    target_names: list[str]
    items: list[StagedItem] = field(default_factory=list)


def recover(paths: DatasetPaths, dataset: DatasetFile) -> int:
    """Undo a commit that died before ``dataset.json`` was written; returns records removed."""
    if not paths.journal.exists():
        return 0
    journal = read_json(paths.journal)
    removed = 0
    if journal.get("import_id") not in committed_import_ids(dataset):
        for image_id in journal.get("records", []):
            path = paths.record_path(str(image_id))
            with contextlib.suppress(Exception):
                if read_model(path, ImageRecord).import_id == journal["import_id"]:
                    path.unlink()
                    removed += 1
    paths.journal.unlink()
    return removed


def discard(paths: DatasetPaths, import_id: str) -> None:
    """Remove the staging and upload folders of an import (whatever its outcome)."""
    shutil.rmtree(paths.staging(import_id), ignore_errors=True)
    shutil.rmtree(paths.uploads(import_id), ignore_errors=True)


def sweep(paths: DatasetPaths, keep: set[str], min_age_s: float = 3600) -> list[str]:
    """Remove staging/upload folders left by imports that are no longer running
    (older than ``min_age_s``, so a request still uploading is never touched)."""
    removed: list[str] = []
    now = time.time()
    for parent in (paths.root / ".staging", paths.root / ".uploads"):
        if not parent.is_dir():
            continue
        for folder in parent.iterdir():
            if folder.name in keep or now - folder.stat().st_mtime < min_age_s:
                continue
            try:
                running = read_report(paths, folder.name).status == "running"
            except Exception:
                running = False
            if not running:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
    return removed


def _stage_records(
    paths: DatasetPaths,
    staged: StagedImport,
    report: ImportReport,
    mapping: list[int],
    meta_staging: str,
) -> list[ImageRecord]:
    """Build the new records (duplicates of stored images become report lines) and write
    each to the staging folder. Plain string paths: this loop runs once per image."""
    records: list[ImageRecord] = []
    meta_root = str(paths.meta_dir)
    for item in staged.items:
        img = item.image
        image_id = img.sha256[:16]
        existing = f"{meta_root}/{image_id[:2]}/{image_id}.json"
        if os.path.exists(existing):
            report.duplicates += 1
            report.issues.append(_duplicate_issue(item.original_name, Path(existing)))
            continue
        record = ImageRecord(
            id=image_id, original_name=item.original_name,
            path=paths.image_rel(img.sha256, img.ext), thumb_path=paths.thumb_rel(img.sha256),
            width=img.width, height=img.height, format=img.format, bytes=img.bytes,
            sha256=img.sha256, import_id=staged.import_id,
            annotations=remap(item.annotations, mapping),
        )  # fmt: skip
        with open(f"{meta_staging}/{image_id}.json", "w") as fh:
            fh.write(record.model_dump_json(indent=2) + "\n")
        records.append(record)
    return records


def _place(paths: DatasetPaths, staging: Path, records: list[ImageRecord]) -> None:
    """Rename every staged image, thumbnail and record into place (each rename is atomic;
    an existing image or thumbnail has the same bytes, records were checked under the lock)."""
    root, stage, meta = str(paths.root), str(staging), str(paths.meta_dir)
    made: set[str] = set()
    for record in records:
        moves = (
            (
                f"{stage}/images/{record.sha256}.{record.path.rsplit('.', 1)[-1]}",
                f"{root}/{record.path}",
            ),
            (f"{stage}/thumbs/{record.sha256}.jpg", f"{root}/{record.thumb_path}"),
            (f"{stage}/meta/{record.id}.json", f"{meta}/{record.id[:2]}/{record.id}.json"),
        )
        for src, dst in moves:
            folder = dst.rsplit("/", 1)[0]
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            os.replace(src, dst)


def commit_import(
    ws: Workspace,
    project_id: str,
    staged: StagedImport,
    report: ImportReport,
    on_commit: Callable[[list[ImageRecord], ImportReport, DatasetFile], None] | None = None,
) -> list[ImageRecord]:
    """Make a staged import part of the dataset (see the module docstring); returns new records.

    Images already in the dataset (same sha256) become ``duplicates`` issues here,
    under the lock, so two concurrent imports never store the same image twice.
    ``on_commit`` runs inside the lock after ``dataset.json`` is written (the mirror).
    """
    paths = dataset_paths(ws, project_id)
    staging = paths.staging(staged.import_id)
    with resource_lock(ws.project_lock(project_id)):
        dataset = load_dataset(ws, project_id)
        recover(paths, dataset)
        if (
            staged.target_names
            and dataset.target_names
            and staged.target_names != dataset.target_names
        ):
            raise ValidationFailed(
                f"The dataset's regression targets are {dataset.target_names}; "
                f"this import has {staged.target_names}. Targets must match.",
                code="targets_mismatch",
            )
        mapping, classes = plan_classes(dataset, staged.class_names)
        (staging / "meta").mkdir(parents=True, exist_ok=True)
        records = _stage_records(paths, staged, report, mapping, str(staging / "meta"))
        write_json_atomic(
            paths.journal, {"import_id": staged.import_id, "records": [r.id for r in records]}
        )
        sync_filesystem(paths.root)  # staged bytes are durable before any rename
        _place(paths, staging, records)
        sync_filesystem(paths.root)  # the renames are durable before the commit point
        report.added = len(records)
        report.status = "committed"
        report.finished_at = utcnow()
        write_report(paths, report)
        dataset.classes = classes
        dataset.target_names = dataset.target_names or staged.target_names
        dataset.image_count += len(records)
        dataset.imports.append(summary_of(report))
        dataset.updated_at = utcnow()
        write_json_atomic(paths.dataset_file, dataset)  # the commit point
        paths.journal.unlink()
        if on_commit is not None:
            try:
                on_commit(records, report, dataset)
            except Exception:  # committed is committed; the mirror heals on the next read
                log.exception("import %s is committed but on_commit failed", staged.import_id)
    return records


def _duplicate_issue(name: str, existing: Path) -> ImportIssue:
    try:
        other = read_model(existing, ImageRecord).original_name
    except Exception:
        other = existing.stem
    return ImportIssue(
        file=name, reason=f"duplicate: the same image is already in the dataset as {other}",
        severity="warning",
    )  # fmt: skip
