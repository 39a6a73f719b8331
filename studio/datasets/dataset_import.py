"""The import pipeline: parse → process in parallel → stage → commit, with a report.

:func:`run_import` contract:

- Every bad input (a file, a row, an annotation) becomes an :class:`ImportIssue`;
  it never stops the import. Duplicates (same sha256 earlier in the import, or
  already in the dataset) are reported as warnings and stored once. Files that are
  not images are one summary line (counts by extension) but each counts as skipped;
  the report lists at most :data:`MAX_ISSUES` lines (then one "… more" line).
- An import that yields no image (no image file, or none that could be read) fails
  with "No images found": an empty or unrelated folder is never a green import.
- A fatal error (unreadable zip, malformed annotation file, cancellation, an
  unexpected exception) leaves the dataset exactly as it was: the report is
  written with ``status: failed`` and the error, staging is removed, and the
  error is re-raised (a :class:`StudioError` with a sentence).
- Otherwise every good image is committed at once (see :mod:`studio.datasets.store`)
  and the report, with ``status: committed``, is returned.
- Images are processed by a pool of ``workers`` processes forked from a
  ``forkserver`` (a clean single-threaded process that preloads only
  :mod:`studio.datasets.images`), so it is safe to call from a threaded worker
  and never re-imports the caller's ``__main__``; small imports run in-process.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from studio.datasets import sources
from studio.datasets.images import ProcessedImage, harden_process, process_task
from studio.datasets.importers import (
    ImportOptions,
    ParsedImport,
    apply_task_rules,
    get_importer,
    issue,
    skipped_summary,
)
from studio.datasets.store import (
    DatasetPaths,
    StagedImport,
    StagedItem,
    commit_import,
    dataset_paths,
    discard,
    read_report,
    write_report,
)
from studio.errors import NotFound, StudioError, ValidationFailed
from studio.storage.dataset_schemas import DatasetFile, ImageRecord, ImportReport
from studio.storage.paths import Workspace
from studio.storage.schemas import utcnow

ProgressFn = Callable[[int, int, str], None]
OnCommit = Callable[[list[ImageRecord], ImportReport, DatasetFile], None]
POOL_THRESHOLD = 32  # below this many images the pool's start-up costs more than it saves
CHUNK = 8
MAX_ISSUES = 1000  # report lines kept (the counts stay exact)
NOT_IMAGES = "(not images)"  # the ``file`` of the summary line of non-image files
MORE_LINES = "(more)"  # the ``file`` of the line that ends a capped report


@dataclass
class ImportRequest:
    """What to import into which project. ``root`` is a folder; ``zip_path`` (if set)
    is extracted first and its contents become the root."""

    project_id: str
    import_id: str
    format: str
    task: str
    source: str  # human description for the report: "folder /data/cats", "upload cats.zip"
    root: Path | None = None
    zip_path: Path | None = None
    zip_caps: sources.ZipCaps = field(default_factory=sources.ZipCaps)
    annotations: str | None = None  # annotation file name (relative to root) or absolute path
    annotations_anywhere: bool = False  # the command line may name an annotation file elsewhere
    job_id: str | None = None
    workers: int = 2
    max_pixels: int | None = None  # None = Pillow's MAX_IMAGE_PIXELS


def new_report(req: ImportRequest) -> ImportReport:
    return ImportReport(id=req.import_id, job_id=req.job_id, source=req.source, format=req.format)


def _process(
    tasks: list[tuple[int, str, str, int]], workers: int
) -> Iterator[tuple[int, ProcessedImage | str]]:
    if workers <= 1 or len(tasks) < POOL_THRESHOLD:
        for task in tasks:
            yield process_task(task)
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["studio.datasets.images"])
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=harden_process
    ) as pool:
        try:
            yield from pool.map(process_task, tasks, chunksize=CHUNK)
        finally:  # on cancellation or error: drop what has not started
            pool.shutdown(wait=True, cancel_futures=True)


def _root(req: ImportRequest, paths: DatasetPaths) -> Path:
    if req.zip_path is not None:
        return sources.extract_zip(
            req.zip_path, paths.uploads(req.import_id) / "unzipped", req.zip_caps
        )
    if req.root is None:
        raise StudioError("The import has no source folder", code="no_source")
    return req.root.resolve()


def _stage(
    req: ImportRequest,
    parsed: ParsedImport,
    report: ImportReport,
    staging: Path,
    progress: ProgressFn,
    check_cancel: Callable[[], None],
) -> StagedImport:
    staged = StagedImport(req.import_id, parsed.class_names, parsed.target_names)
    (staging / "images").mkdir(parents=True, exist_ok=True)
    (staging / "thumbs").mkdir(parents=True, exist_ok=True)
    max_pixels = req.max_pixels or Image.MAX_IMAGE_PIXELS or 2**62
    tasks = [(i, str(item.source), str(staging), max_pixels) for i, item in enumerate(parsed.items)]
    total = len(tasks)
    results: dict[int, ProcessedImage | str] = {}
    progress(0, total, f"Checking {total} images")
    for done, (index, result) in enumerate(_process(tasks, req.workers), start=1):
        results[index] = result
        if done % CHUNK == 0 or done == total:
            check_cancel()
            progress(done, total, f"Checked {done} of {total} images")
    first_by_sha: dict[str, str] = {}
    for index, item in enumerate(parsed.items):
        result = results[index]
        if isinstance(result, str):
            report.issues.append(issue(item.name, result))
            continue
        if result.sha256 in first_by_sha:
            report.duplicates += 1
            report.issues.append(issue(
                item.name, f"duplicate: the same image as {first_by_sha[result.sha256]} in this import",
                "warning",
            ))  # fmt: skip
            continue
        first_by_sha[result.sha256] = item.name
        staged.items.append(StagedItem(item.name, result, item.annotations))
    return staged


def _summarise(parsed: ParsedImport, report: ImportReport) -> None:
    """One report line (first) for every file that is not an image, counted by extension."""
    if parsed.skipped_types:
        report.issues.insert(0, issue(NOT_IMAGES, skipped_summary(parsed.skipped_types)))


def _count_and_cap(report: ImportReport, unlisted: int) -> None:
    """``skipped`` = error lines (the summary line counts as the files it stands for),
    then keep at most :data:`MAX_ISSUES` lines. Once capped, the report is left as it is."""
    if report.issues and report.issues[-1].file == MORE_LINES:
        return
    errors = [i for i in report.issues if i.severity == "error"]
    summary = sum(1 for i in errors if i.file == NOT_IMAGES)
    report.skipped = len(errors) - summary + unlisted
    if len(report.issues) > MAX_ISSUES:
        more = len(report.issues) - MAX_ISSUES
        report.issues = report.issues[:MAX_ISSUES]
        report.issues.append(issue(MORE_LINES, f"{more} more lines not listed", "warning"))


def _no_images(parsed: ParsedImport) -> ValidationFailed:
    if parsed.items:
        why = f"none of the {len(parsed.items)} image files could be read (see the report)"
    elif parsed.skipped_types:
        why = skipped_summary(parsed.skipped_types)
    else:
        why = "the source holds no image file this format can use (see the report)"
    return ValidationFailed(f"No images found: {why}", code="no_images")


def run_import(
    ws: Workspace,
    req: ImportRequest,
    progress: ProgressFn | None = None,
    check_cancel: Callable[[], None] | None = None,
    on_commit: OnCommit | None = None,
) -> ImportReport:
    """Run one import to the end (see the module docstring); returns the committed report."""
    paths = dataset_paths(ws, req.project_id)
    progress = progress or (lambda done, total, message: None)
    check_cancel = check_cancel or (lambda: None)
    try:
        report = read_report(paths, req.import_id)
    except NotFound:
        report = new_report(req)
    report.status, report.error, report.issues = "running", "", []
    report.job_id = req.job_id or report.job_id
    report.added = report.duplicates = report.skipped = 0
    write_report(paths, report)
    unlisted = 0
    try:
        progress(0, 0, "Reading the source")
        root = _root(req, paths)
        annotations = sources.resolve_annotations(root, req.annotations, req.annotations_anywhere)
        options = ImportOptions(task=req.task, annotations=annotations)
        parsed = apply_task_rules(get_importer(req.format)(root, options), options.rules)
        report.issues.extend(parsed.issues)
        _summarise(parsed, report)
        unlisted = sum(parsed.skipped_types.values())
        check_cancel()
        staged = _stage(req, parsed, report, paths.staging(req.import_id), progress, check_cancel)
        if not staged.items:
            raise _no_images(parsed)
        check_cancel()
        progress(len(parsed.items), len(parsed.items), "Saving the images into the dataset")
        _count_and_cap(report, unlisted)
        commit_import(ws, req.project_id, staged, report, on_commit)
        return report
    except BaseException as exc:
        report.status = "failed"
        report.finished_at = utcnow()
        _count_and_cap(report, unlisted)
        if isinstance(exc, StudioError):
            report.error = exc.message
        elif isinstance(exc, Exception):
            report.error = f"Unexpected error: {type(exc).__name__}: {exc}"
        else:
            report.error = "The import was interrupted"
        report.added = 0
        write_report(paths, report)
        raise
    finally:
        discard(paths, req.import_id)


def mark_failed(ws: Workspace, project_id: str, import_id: str, error: str) -> ImportReport | None:
    """Mark a report that never ran to the end as failed (e.g. its job was cancelled while queued)."""
    paths = dataset_paths(ws, project_id)
    try:
        report = read_report(paths, import_id)
    except StudioError:
        return None
    if report.status != "running":
        return report
    report.status, report.error, report.finished_at = "failed", error, utcnow()
    write_report(paths, report)
    discard(paths, import_id)
    return report
