"""Dataset writes: start an import (as a job or in-process), the job handler, the mirror.

Order of every write: the workspace JSON first (under the project lock, inside
:mod:`studio.datasets`), then the mirror. ``import_start`` validates everything it
can before queueing (so a wrong path or a hostile zip is a 400 at once), writes a
``running`` report and submits a ``dataset_import`` job whose handler is
:func:`run_import`.

Server folders: only a caller allowed to (``ImportStart.may_use_server_folders``, from
:func:`apps.datasets.conf.may_import_server_folders`) may name one, and only inside the
import roots (``<workspace>/import/`` + ``STUDIO_IMPORT_ROOTS``); the command line
(:func:`import_inline`, the server's operator) may name any folder but the workspace.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.core.job_context import JobContext
from apps.core.services import broker_check, job_submit
from apps.core.workspace import ws
from apps.datasets import conf
from apps.datasets.mirror import mirror_commit, mirror_report
from apps.datasets.models import Import
from apps.projects.selectors import project_require
from studio.datasets import sources, store
from studio.datasets.dataset_import import (
    ImportRequest,
    mark_failed,
    new_report,
)
from studio.datasets.dataset_import import (
    run_import as pipeline,
)
from studio.datasets.importers import format_info
from studio.errors import Forbidden, StudioError, ValidationFailed
from studio.storage import project_store
from studio.storage.dataset_schemas import ImportReport
from studio.storage.paths import new_id
from studio.storage.schemas import utcnow

log = logging.getLogger(__name__)
SOURCE_KINDS = ("folder", "zip", "files")


@dataclass
class Upload:
    """A file the upload handler already streamed into ``.uploads/<import_id>/incoming/``."""

    name: str
    path: Path
    size: int


@dataclass
class ImportStart:
    project_id: str
    format: str
    source: str  # "folder" | "zip" | "files"
    path: str = ""  # folder source
    annotations: str = ""
    label: str = ""  # files source: put every file in this class folder
    uploads: list[Upload] = field(default_factory=list)
    relative_paths: list[str] = field(default_factory=list)
    may_use_server_folders: bool = False  # conf.may_import_server_folders(request.user)


def new_import_id() -> str:
    return new_id("i")


def upload_dir(project_id: str, import_id: str) -> Path:
    return store.dataset_paths(ws(), project_id).uploads(import_id)


def _prepare(start: ImportStart, import_id: str) -> dict[str, Any]:
    """Validate the source and return the job params that describe it."""
    if start.source == "folder":
        if not start.may_use_server_folders:
            raise Forbidden(
                "Importing a folder on the server needs the permission to import server "
                "folders (staff have it); upload a zip or the image files instead",
                details={"source": ["Not allowed for this user: use zip or files."]},
            )
        root, ann_file = sources.resolve_folder(start.path, conf.folder_policy())
        annotations = start.annotations or (str(ann_file) if ann_file else "")
        sources.resolve_annotations(root, annotations or None)
        return {"root": str(root), "annotations": annotations, "label": f"folder {root}"}
    if start.annotations and Path(start.annotations).is_absolute():
        raise ValidationFailed("With an upload, name the annotation file relative to the upload",
                               code="path_not_relative", details={"annotations": ["Use a relative name."]})  # fmt: skip
    if not start.uploads:
        raise ValidationFailed(
            "Choose a file to upload", code="no_files", details={"files": ["No file was uploaded."]}
        )
    if start.source == "zip":
        if len(start.uploads) != 1:
            raise ValidationFailed(
                "Upload exactly one zip file", code="one_zip", details={"files": ["One zip file."]}
            )
        upload = start.uploads[0]
        sources.check_zip(upload.path, conf.zip_caps())
        return {
            "zip_path": str(upload.path),
            "annotations": start.annotations,
            "label": f"upload {upload.name}",
        }
    root = upload_dir(start.project_id, import_id) / "files"
    names = start.relative_paths if len(start.relative_paths) == len(start.uploads) else []
    for i, upload in enumerate(start.uploads):
        rel = sources.upload_relpath(names[i] if names else upload.name, start.label)
        target = root / rel
        if target.exists():
            target = target.with_name(f"{target.stem}-{i}{target.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        upload.path.replace(target)
    count = len(start.uploads)
    if names and not start.label:
        root = sources.unwrap(root)  # a picked folder arrives as <folder>/<class>/<file>
    return {"root": str(root), "annotations": start.annotations,
            "label": f"{count} uploaded file{'s' if count != 1 else ''}"}  # fmt: skip


def import_start(start: ImportStart, import_id: str | None = None) -> tuple[str, str]:
    """Validate, write a ``running`` report and queue the job; returns (job_id, import_id).

    On any validation error the uploaded files are removed and nothing is recorded.
    """
    import_id = import_id or new_import_id()
    try:
        project = project_require(start.project_id)
        format_info(start.format)
        if start.source not in SOURCE_KINDS:
            raise ValidationFailed(f"Unknown source {start.source!r}; use folder, zip or files",
                                   code="unknown_source", details={"source": list(SOURCE_KINDS)})  # fmt: skip
        broker_check()  # 503 before anything is recorded while Redis is down
        described = _prepare(start, import_id)
    except BaseException:
        sources.remove_tree(upload_dir(start.project_id, import_id))
        raise
    paths = store.dataset_paths(ws(), start.project_id)
    store.sweep(paths, keep={import_id})
    report = ImportReport(id=import_id, source=described.pop("label"), format=start.format)
    store.write_report(paths, report)
    mirror_report(start.project_id, report)
    params = {"import_id": import_id, "format": start.format, "task": project.task,
              "source": report.source, **described}  # fmt: skip
    try:
        job = job_submit("dataset_import", params, start.project_id)
    except BaseException as exc:  # never leave a report "running" without a job
        report.status, report.finished_at = "failed", utcnow()
        report.error = f"The import could not be queued: {exc}"
        store.write_report(paths, report)
        mirror_report(start.project_id, report)
        raise
    # Only the job id, and only while running: the worker may already have finished and
    # written the final report (the pipeline records the job id in the file itself).
    Import.objects.filter(id=import_id, status="running").update(job_id=job.id)
    return job.id, import_id


def _request(project_id: str, params: dict[str, Any], job_id: str | None) -> ImportRequest:
    root = params.get("root")
    return ImportRequest(
        project_id=project_id, import_id=params["import_id"], format=params["format"],
        task=params.get("task") or project_store.load(ws(), project_id).task,
        source=params.get("source", ""), root=Path(root) if root else None,
        zip_path=Path(params["zip_path"]) if params.get("zip_path") else None,
        zip_caps=conf.zip_caps(), annotations=params.get("annotations") or None,
        job_id=job_id, workers=conf.import_workers(),
    )  # fmt: skip


def _result(report: ImportReport) -> dict[str, Any]:
    return {"import_id": report.id, "added": report.added, "duplicates": report.duplicates,
            "skipped": report.skipped, "issues": len(report.issues)}  # fmt: skip


def run_import(ctx: JobContext) -> dict[str, Any]:
    """Job handler of ``dataset_import``: run the pipeline with progress over the job's SSE."""
    project_id = ctx.project_id or ""
    req = _request(project_id, ctx.params, ctx.job_id)
    paths = store.dataset_paths(ws(), project_id)

    def progress(done: int, total: int, message: str) -> None:
        ctx.progress(
            done,
            total,
            message,
            force=done == 0 or done == total,
            data={"import_id": req.import_id},
        )

    try:
        report = pipeline(ws(), req, progress, ctx.raise_if_cancelled, mirror_commit)
    except BaseException:
        _mirror_report_file(project_id, paths, req.import_id)  # the failed report, with its reason
        raise
    ctx.event("report", _result(report))
    return _result(report)


def _mirror_report_file(project_id: str, paths: store.DatasetPaths, import_id: str) -> None:
    try:
        mirror_report(project_id, store.read_report(paths, import_id))
    except StudioError:
        log.warning("no report to mirror for import %s", import_id)


def import_inline(
    project_id: str, path: str, fmt: str, annotations: str = "", progress: Any = None
) -> ImportReport:
    """Import a server folder in this process (``manage.py import_dataset``): no job, no worker.

    Run by the server's operator, so any folder the process can read is allowed except
    Studio's workspace (inside it only ``import/``) and the folders that contain it.
    """
    project = project_require(project_id)
    format_info(fmt)
    root, ann_file = sources.resolve_folder(path, conf.folder_policy(anywhere=True))
    annotations = annotations or (str(ann_file) if ann_file else "")
    sources.resolve_annotations(root, annotations or None, anywhere=True)
    import_id = new_import_id()
    req = ImportRequest(
        project_id=project_id, import_id=import_id, format=fmt, task=project.task,
        source=f"folder {root}", root=root, annotations=annotations or None,
        annotations_anywhere=True, workers=conf.import_workers(),
    )  # fmt: skip
    paths = store.dataset_paths(ws(), project_id)
    store.sweep(paths, keep={import_id})
    store.write_report(paths, new_report(req))
    try:
        return pipeline(ws(), req, progress, None, mirror_commit)
    finally:
        _mirror_report_file(project_id, paths, import_id)


def import_reconcile(project_id: str, import_id: str, job_status: str, job_error: str) -> None:
    """A report still ``running`` whose job already ended (cancelled while queued, interrupted)."""
    reason = job_error or f"The import job ended ({job_status}) before the import finished"
    report = mark_failed(ws(), project_id, import_id, reason)
    if report is not None:
        mirror_report(project_id, report)


def discard_upload(project_id: str, import_id: str) -> None:
    """Remove what a refused import request uploaded (nothing else was recorded)."""
    with contextlib.suppress(StudioError):
        sources.remove_tree(upload_dir(project_id, import_id))
