"""Keeping the dataset mirror equal to the workspace.

- After a commit, :func:`mirror_commit` bulk-loads the new rows (inside the
  project lock, right after ``dataset.json`` was written) and records which
  ``dataset.json`` (mtime, size) the rows match.
- On every read, :func:`dataset_sync` compares that with the file on disk (one
  ``stat`` and one indexed query); if they differ — a crash between commit and
  mirror, a restored backup, a dropped database — it rebuilds the project's rows
  from ``meta/`` under the project lock.
- Import rows are written whenever a report is written (:func:`mirror_report`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count

from apps.core.workspace import ws
from apps.datasets.models import DatasetState, Image, Import
from studio.datasets import store
from studio.storage import project_store
from studio.storage.dataset_schemas import DatasetFile, ImageRecord, ImportReport
from studio.storage.locks import resource_lock

BATCH = 1000
HISTOGRAM_BINS = 10


def _stat(project_id: str) -> tuple[int, int]:
    try:
        st = store.dataset_paths(ws(), project_id).dataset_file.stat()
    except FileNotFoundError:
        return 0, 0
    return st.st_mtime_ns, st.st_size


def image_row(project_id: str, record: ImageRecord, names: dict[int, str]) -> Image:
    label = record.annotations.label
    target = record.annotations.target or None
    return Image(
        project_id=project_id, image_id=record.id, name=record.original_name[:1000],
        class_id=label, label=names.get(label, "") if label is not None else "",
        width=record.width, height=record.height, bytes=record.bytes, format=record.format,
        sha256=record.sha256, imported_at=record.imported_at, import_id=record.import_id,
        target=target, target0=target[0] if target else None,
    )  # fmt: skip


def target_summary(names: list[str], values: Iterable[list[float] | None]) -> list[dict[str, Any]]:
    """Count, min, max, mean and a 10-bin histogram of each target (values without a target
    or of the wrong length are left out)."""
    columns: list[list[float]] = [[] for _ in names]
    for row in values:
        if row and len(row) == len(names):
            for column, value in zip(columns, row, strict=True):
                column.append(float(value))
    out = []
    for name, column in zip(names, columns, strict=True):
        entry: dict[str, Any] = {"name": name, "count": len(column)}
        if column:
            low, high = min(column), max(column)
            bins = HISTOGRAM_BINS if high > low else 1
            width = (high - low) / bins or 1.0
            counts = [0] * bins
            for value in column:
                counts[min(bins - 1, int((value - low) / width))] += 1
            entry.update(
                min=low, max=high, mean=sum(column) / len(column), counts=counts,
                edges=[low + i * width for i in range(bins)] + [high],
            )  # fmt: skip
        out.append(entry)
    return out


def _bulk(project_id: str, records: Iterable[ImageRecord], dataset: DatasetFile) -> int:
    names = {c.id: c.name for c in dataset.classes}
    batch: list[Image] = []
    count = 0
    for record in records:
        batch.append(image_row(project_id, record, names))
        if len(batch) >= BATCH:
            Image.objects.bulk_create(batch, ignore_conflicts=True)
            count += len(batch)
            batch = []
    if batch:
        Image.objects.bulk_create(batch, ignore_conflicts=True)
        count += len(batch)
    return count


def mirror_report(project_id: str, report: ImportReport) -> None:
    Import.objects.update_or_create(
        id=report.id,
        defaults={
            "project_id": project_id, "job_id": report.job_id or "", "source": report.source,
            "format": report.format, "status": report.status, "started_at": report.started_at,
            "finished_at": report.finished_at, "added": report.added,
            "duplicates": report.duplicates, "skipped": report.skipped,
            "issue_count": len(report.issues), "error": report.error[:4000],
        },
    )  # fmt: skip


def _mark(project_id: str, dataset: DatasetFile) -> None:
    """Record the dataset.json the rows now match, with the per-class counts of the rows."""
    mtime, size = _stat(project_id)
    rows = (
        Image.objects.filter(project_id=project_id)
        .values("class_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {("none" if r["class_id"] is None else str(r["class_id"])): r["n"] for r in rows}
    stats = []
    if dataset.target_names:
        values = Image.objects.filter(project_id=project_id, target__isnull=False)
        stats = target_summary(dataset.target_names, values.values_list("target", flat=True))
    DatasetState.objects.update_or_create(
        project_id=project_id,
        defaults={"json_mtime_ns": mtime, "json_size": size, "image_count": sum(counts.values()),
                  "class_counts": counts, "target_stats": stats},
    )  # fmt: skip


def mirror_commit(records: list[ImageRecord], report: ImportReport, dataset: DatasetFile) -> None:
    """``on_commit`` of an import: add its rows, its report, and the new dataset.json stamp."""
    project_id = dataset.project_id
    with transaction.atomic():
        _bulk(project_id, records, dataset)
        mirror_report(project_id, report)
        _mark(project_id, dataset)


def rebuild(project_id: str) -> int:
    """Replace the project's rows with what the workspace holds; returns the image count."""
    dataset = store.load_dataset(ws(), project_id)
    paths = store.dataset_paths(ws(), project_id)
    with transaction.atomic():
        Image.objects.filter(project_id=project_id).delete()
        Import.objects.filter(project_id=project_id).delete()
        count = _bulk(project_id, store.iter_records(ws(), project_id), dataset)
        for report in store.list_reports(paths):
            mirror_report(project_id, report)
        _mark(project_id, dataset)
    return count


def dataset_sync(project_id: str) -> DatasetState:
    """The project's mirror state, after rebuilding its rows if dataset.json changed since."""
    stamp = _stat(project_id)
    state = DatasetState.objects.filter(project_id=project_id).first()
    if state is not None and (state.json_mtime_ns, state.json_size) == stamp:
        return state
    if state is None and stamp == (0, 0):
        return DatasetState(project_id=project_id)  # nothing imported yet, nothing mirrored
    with resource_lock(ws().project_lock(project_id)):
        state = DatasetState.objects.filter(project_id=project_id).first()
        if state is None or (state.json_mtime_ns, state.json_size) != _stat(project_id):
            rebuild(project_id)  # (else an import finished mirroring while we waited)
            state = DatasetState.objects.get(project_id=project_id)
    return state


def forget(project_id: str) -> None:
    """Drop every row of a project (it was deleted)."""
    Image.objects.filter(project_id=project_id).delete()
    Import.objects.filter(project_id=project_id).delete()
    DatasetState.objects.filter(project_id=project_id).delete()


def mirror_rebuild() -> int:
    """Drop every dataset row and rebuild them from the workspace; returns the image count."""
    Image.objects.all().delete()
    Import.objects.all().delete()
    DatasetState.objects.all().delete()
    total = 0
    for found in project_store.scan(ws()):
        if found.project is not None and store.dataset_paths(ws(), found.id).dataset_file.exists():
            total += rebuild(found.id)
    return total
