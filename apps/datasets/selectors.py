"""Dataset reads: summary, the image list (filter/sort/paginate), one image, its files.

Lists come from the mirror (synced first, see :mod:`apps.datasets.mirror`); one
image's annotations and the import reports come from the workspace JSON.

Splits hook: ``?split=<split id>&subset=train|val|test`` is handled by a function
the splits app registers with :func:`register_subset_filter` (e.g. from its
``AppConfig.ready``). It receives the image queryset, the project id, the split
id and the subset, and returns the narrowed queryset (typically
``qs.filter(image_id__in=<its membership table>.filter(...).values("image_id"))``).
Until one is registered, those parameters are answered with a 400.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import Count, F, QuerySet

from apps.core.models import Job
from apps.core.pagination import Page, int_param
from apps.core.workspace import ws
from apps.datasets.mirror import dataset_sync
from apps.datasets.models import Image, Import
from studio.datasets import images as image_files
from studio.datasets import store
from studio.errors import NotFound, ValidationFailed
from studio.storage.dataset_schemas import DatasetFile, ImageRecord, ImportReport
from studio.storage.paths import check_id, resolve_inside

SubsetFilter = Callable[[QuerySet[Image], str, str, str], QuerySet[Image]]
_subset_filter: SubsetFilter | None = None

SORTS = {"name": "name", "date": "imported_at", "size": "bytes", "target": "target0"}
LIST_PARAMS = frozenset({"page", "page_size", "class", "q", "sort", "split", "subset"})
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 60
LIST_FIELDS = ("image_id", "name", "class_id", "label", "width", "height", "bytes", "format",
               "imported_at", "import_id", "target")  # fmt: skip
ISSUES_INLINE = 100
TERMINAL_JOB = ("succeeded", "failed", "cancelled", "interrupted")


def register_subset_filter(fn: SubsetFilter | None) -> None:
    """Install (or with None, remove) the split/subset filter; see the module docstring."""
    global _subset_filter
    _subset_filter = fn


def project_check(project_id: str) -> None:
    """404 unless the project folder exists (cheap: no JSON parse, no mirror write)."""
    check_id(project_id, "project")
    if not ws().project_dir(project_id).is_dir():
        raise NotFound(f"No project {project_id!r}", details={"project_id": project_id})


def dataset_get(project_id: str) -> DatasetFile:
    project_check(project_id)
    dataset_sync(project_id)
    return store.load_dataset(ws(), project_id)


def class_counts(project_id: str, split: str = "", subset: str = "") -> dict[int | None, int]:
    """Images per class id (None = without a label).

    Without ``split``/``subset``: the whole dataset, kept with the mirror (no scan). With
    both: only the images of that subset of that split (``unassigned`` included), one
    grouped count through the registered subset filter; the same errors as the image list
    (404 unknown split, 400 unknown subset or only one of the two given).
    """
    state = dataset_sync(project_id)
    if not (split or subset):
        return {(None if key == "none" else int(key)): n for key, n in state.class_counts.items()}
    dataset = store.load_dataset(ws(), project_id)
    qs = image_queryset(project_id, {"split": split, "subset": subset}, dataset)
    rows = qs.order_by().values("class_id").annotate(n=Count("id"))
    return {r["class_id"]: r["n"] for r in rows}


def target_stats(project_id: str) -> list[dict[str, Any]]:
    """Per regression target: count, min, max, mean, histogram (kept with the mirror)."""
    return list(dataset_sync(project_id).target_stats or [])


def _reconcile(project_id: str) -> None:
    """Reports still ``running`` whose job has ended are marked failed (e.g. cancelled while queued)."""
    running = list(
        Import.objects.filter(project_id=project_id, status="running").exclude(job_id="")
    )
    if not running:
        return
    from apps.datasets.services import import_reconcile

    jobs = {
        j.id: j
        for j in Job.objects.filter(id__in=[r.job_id for r in running], status__in=TERMINAL_JOB)
    }
    for row in running:
        if row.job_id in jobs:
            import_reconcile(project_id, row.id, jobs[row.job_id].status, jobs[row.job_id].error)


def import_list(project_id: str) -> list[Import]:
    project_check(project_id)
    dataset_sync(project_id)
    _reconcile(project_id)
    return list(Import.objects.filter(project_id=project_id))


def import_report(project_id: str, import_id: str) -> ImportReport:
    project_check(project_id)
    check_id(import_id, "import")
    return store.read_report(store.dataset_paths(ws(), project_id), import_id)


def import_reports(
    project_id: str, limit_issues: int | None = ISSUES_INLINE
) -> list[dict[str, Any]]:
    """Every import, newest first, with its report (issues cut to ``limit_issues``)."""
    rows = import_list(project_id)
    paths = store.dataset_paths(ws(), project_id)
    out = []
    for row in rows:
        try:
            report = store.read_report(paths, row.id)
        except Exception:
            report = None
        data: dict[str, Any] = (
            report.model_dump(mode="json")
            if report
            else {"id": row.id, "status": row.status, "source": row.source, "issues": []}
        )
        data["job_id"] = data.get("job_id") or row.job_id or None  # queued: only the row knows it
        data["issue_count"] = len(data.get("issues", []))
        if limit_issues is not None:
            data["issues"] = data.get("issues", [])[:limit_issues]
        out.append(data)
    return out


def resolve_class(dataset: DatasetFile, value: str) -> int | None:
    """A class filter value: an id, a name, or ``none`` (images without a label)."""
    if value.lower() == "none":
        return None
    by_id = {str(c.id): c.id for c in dataset.classes}
    by_name = {c.name: c.id for c in dataset.classes}
    if value in by_name:
        return by_name[value]
    if value in by_id:
        return by_id[value]
    raise ValidationFailed(f"No class {value!r} in this dataset", code="unknown_class",
                           details={"class": [f"Unknown class {value!r}."]})  # fmt: skip


def image_queryset(
    project_id: str, params: Mapping[str, str], dataset: DatasetFile
) -> QuerySet[Image]:
    """Filtered and ordered; unknown parameters and sort fields are refused (400)."""
    unknown = sorted(set(params) - LIST_PARAMS)
    if unknown:
        raise ValidationFailed(
            f"Unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(LIST_PARAMS))}",
            code="unknown_parameter", details={name: ["Not a filter of this list."] for name in unknown},
        )  # fmt: skip
    qs = Image.objects.filter(project_id=project_id)
    if params.get("class", "") != "":
        class_id = resolve_class(dataset, params["class"])
        qs = qs.filter(class_id__isnull=True) if class_id is None else qs.filter(class_id=class_id)
    if params.get("q"):
        qs = qs.filter(name__icontains=params["q"][:200])
    split, subset = params.get("split", ""), params.get("subset", "")
    if split or subset:
        if not (split and subset):
            raise ValidationFailed("Give both split and subset", code="split_filter",
                                   details={"split": ["Needs subset."], "subset": ["Needs split."]})  # fmt: skip
        if _subset_filter is None:
            raise ValidationFailed("This dataset has no splits to filter by yet", code="splits_unavailable",
                                   details={"split": ["Splits are not available."]})  # fmt: skip
        qs = _subset_filter(qs, project_id, split, subset)
    sort = params.get("sort") or "name"
    field = SORTS.get(sort.removeprefix("-"))
    if field is None:
        raise ValidationFailed(
            f"Cannot sort by {sort!r}; sort by name, date, size or target (prefix - for descending)",
            code="unknown_sort", details={"sort": [f"Choose one of: {', '.join(SORTS)}."]},
        )  # fmt: skip
    desc = sort.startswith("-")
    # images without a value (no target) go last in both directions
    key = F(field).desc(nulls_last=True) if desc else F(field).asc(nulls_last=True)
    return qs.order_by(key, F("image_id").desc() if desc else F("image_id").asc())


def image_page(project_id: str, params: Mapping[str, str]) -> Page[dict[str, Any]]:
    project_check(project_id)
    state = dataset_sync(project_id)
    dataset = store.load_dataset(ws(), project_id)
    qs = image_queryset(project_id, params, dataset)
    page_size = int_param(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = int_param(params, "page", 1, 1, 10**9)
    if params.get("q") or params.get("split") or params.get("subset"):
        count = qs.count()
    elif params.get("class", "") != "":
        class_id = resolve_class(dataset, params["class"])
        count = state.class_counts.get("none" if class_id is None else str(class_id), 0)
    else:
        count = state.image_count
    if page > 1 and (page - 1) * page_size >= count:
        raise NotFound(f"Page {page} does not exist; there are {max(1, math.ceil(count / page_size))} pages",
                       details={"page": page, "count": count})  # fmt: skip
    start = (page - 1) * page_size
    rows = list(qs.values(*LIST_FIELDS)[start : start + page_size])
    return Page(rows, count, page, page_size)


def _image_id(image_id: str) -> str:
    if not (
        isinstance(image_id, str)
        and len(image_id) == 16
        and all(c in "0123456789abcdef" for c in image_id)
    ):
        raise NotFound(f"No image {image_id!r}", details={"image_id": image_id})
    return image_id


def image_get(project_id: str, image_id: str) -> ImageRecord:
    """The full record (annotations included) from ``meta/``."""
    project_check(project_id)
    record = store.read_record(store.dataset_paths(ws(), project_id), _image_id(image_id))
    committed = store.committed_import_ids(store.load_dataset(ws(), project_id))
    if record.import_id not in committed:
        raise NotFound(f"No image {image_id!r}", details={"image_id": image_id})
    return record


@dataclass(frozen=True)
class ServedFile:
    path: Path
    content_type: str
    etag: str
    filename: str


def image_file(project_id: str, image_id: str, kind: str) -> ServedFile:
    """The bytes to serve for ``kind`` = ``file`` | ``thumbnail``; always inside the dataset folder."""
    project_check(project_id)
    _image_id(image_id)
    dataset_sync(project_id)
    row = (
        Image.objects.filter(project_id=project_id, image_id=image_id)
        .values("sha256", "format", "name")
        .first()
    )
    if row is None:
        raise NotFound(f"No image {image_id!r}", details={"image_id": image_id})
    paths = store.dataset_paths(ws(), project_id)
    sha = row["sha256"]
    if kind == "thumbnail":
        rel, ctype, etag = paths.thumb_rel(sha), "image/jpeg", f'"{sha}-t{image_files.THUMB_SIZE}"'
    else:
        ext = image_files.FORMATS.get(row["format"], ("bin", ""))[0]
        rel, ctype, etag = (
            paths.image_rel(sha, ext),
            image_files.content_type(row["format"]),
            f'"{sha}"',
        )
    try:
        path = resolve_inside(paths.root, rel)
    except ValidationFailed:
        raise NotFound(f"No image {image_id!r}") from None
    if not path.is_file():
        raise NotFound(f"The file of image {image_id!r} is missing from the workspace",
                       code="file_missing", details={"image_id": image_id})  # fmt: skip
    return ServedFile(path, ctype, etag, Path(row["name"]).name)
