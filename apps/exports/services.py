"""Export writes: ``export.json`` (through ``studio.ml.export``), then the mirror.

- :func:`export_start` validates the request, writes ``export.json`` (queued) and submits
  an ``export`` job; :func:`run_export_job` is that job's handler in the worker.
- :func:`export_inline` runs the same export in this process (``manage.py export``).
- :func:`predict_image` runs one uploaded image through the newest passing ONNX export,
  else the best checkpoint; it writes nothing. The answer's shape follows the task's output
  (``output_name``: top-k classes, anomaly score + verdict, or target values).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from apps.core.job_context import JobCancelled, JobContext
from apps.core.services import job_submit
from apps.core.workspace import ws
from apps.exports import selectors
from apps.exports.mirror import exports_sync, forget_export, rebuild_all
from studio.errors import Conflict, NotFound, StudioError, ValidationFailed
from studio.ml.export import predict as predict_core
from studio.ml.export import store
from studio.ml.export.runner import ExportCancelled, default_settings, plan_export, run_export
from studio.storage.export_schemas import ExportFile
from studio.storage.locks import resource_lock
from studio.storage.schemas import JobFile

JOB_KIND = "export"
PREDICT_SOURCES = ("auto", "onnx", "checkpoint")


def export_start(
    project_id: str,
    experiment_id: str,
    fmt: str,
    checkpoint: str = "best.ckpt",
    opset: Any = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[ExportFile, JobFile]:
    """Plan the export (every check that loads no model) and queue its job.

    ``options`` are the task's export options (anomaly detection: ``threshold``).
    """
    selectors.experiment_get(project_id, experiment_id)
    export = plan_export(
        ws(), project_id, experiment_id, fmt=fmt, checkpoint=checkpoint, opset=opset,
        options=options,
    )  # fmt: skip
    params = {"project_id": project_id, "experiment_id": experiment_id, "export_id": export.id}
    try:
        job = job_submit(JOB_KIND, params, project_id)
    except BaseException:
        with contextlib.suppress(StudioError):
            _remove(project_id, experiment_id, export.id)
        raise
    # record the job unless the worker already did (it sets job_id when it starts)
    with resource_lock(store.exports_lock(ws(), project_id, experiment_id)):
        current = store.load_export(ws(), project_id, experiment_id, export.id)
        if current.status == "queued" and not current.job_id:
            current.job_id = job.id
            export = store.save_export(ws(), current)
    exports_sync(project_id, experiment_id)
    return export, job


def run_export_job(ctx: JobContext) -> dict[str, Any]:
    """The ``export`` job: export, validate, report progress; returns a short summary."""
    p = ctx.params
    pid, eid, xid = p["project_id"], p["experiment_id"], p["export_id"]

    def progress(done: int, total: int, message: str) -> None:
        ctx.progress(done, total, message, force=done in (0, total), data={"export_id": xid})

    try:
        export = run_export(ws(), pid, eid, xid, on_progress=progress,
                            should_stop=ctx.cancel_requested, job_id=ctx.job_id)  # fmt: skip
    except ExportCancelled as exc:
        raise JobCancelled(exc.message) from exc
    finally:
        with contextlib.suppress(StudioError):
            exports_sync(pid, eid)
    summary = export_summary(export)
    ctx.event("export", summary)
    return summary


def export_summary(export: ExportFile) -> dict[str, Any]:
    v = export.validation
    return {
        "export_id": export.id, "status": export.status, "format": export.format,
        "file": export.file, "size": export.size,
        "passed": v.passed if v else None, "message": v.message if v else export.error,
    }  # fmt: skip


def export_inline(
    project_id: str,
    experiment_id: str,
    fmt: str,
    checkpoint: str = "best.ckpt",
    opset: Any = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    options: Mapping[str, Any] | None = None,
) -> ExportFile:
    """Plan and run an export in this process (the CLI); no job, same files."""
    selectors.experiment_get(project_id, experiment_id)
    export = plan_export(
        ws(), project_id, experiment_id, fmt=fmt, checkpoint=checkpoint, opset=opset,
        options=options,
    )  # fmt: skip
    try:
        return run_export(ws(), project_id, experiment_id, export.id, on_progress=on_progress)
    finally:
        with contextlib.suppress(StudioError):
            exports_sync(project_id, experiment_id)


def _remove(project_id: str, experiment_id: str, export_id: str) -> None:
    with resource_lock(store.exports_lock(ws(), project_id, experiment_id)):
        store.remove_export(ws(), project_id, experiment_id, export_id)
    forget_export(export_id)


def export_delete(project_id: str, experiment_id: str, export_id: str) -> None:
    """Delete an export folder; 409 ``export_running`` while its job still runs."""
    selectors.experiment_get(project_id, experiment_id)
    store.export_dir(ws(), project_id, experiment_id, export_id)  # 404 for a bad id
    with resource_lock(store.exports_lock(ws(), project_id, experiment_id)):
        try:
            export: ExportFile | None = selectors.effective(
                store.load_export(ws(), project_id, experiment_id, export_id)
            )
        except NotFound:
            raise
        except StudioError:  # damaged export.json: deleting it is the cure
            export = None
        if export is not None and export.status in ("queued", "running"):
            raise Conflict(
                "This export is still running; cancel its job (or wait) before deleting it",
                code="export_running",
                details={"job_id": export.job_id},
            )
        store.remove_export(ws(), project_id, experiment_id, export_id)
    forget_export(export_id)
    predict_core.clear_cache()


def check_image(data: bytes, file_name: str) -> None:
    """``ValidationFailed`` (``bad_image``, 400) naming the file unless ``data`` is an image
    Pillow can identify and whose structure checks out (``verify``: chunk checksums, no
    pixels decoded). Runs before any model is loaded, and keeps Pillow's own wording
    ("cannot identify image file <_io.BytesIO object at 0x…>") away from users."""
    from PIL import Image

    name = Path(file_name).name[:200] or "the upload"
    if not data:
        raise ValidationFailed(
            f"The file is empty: {name}. Choose an image (JPEG, PNG, …)", code="bad_image"
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Image.DecompressionBombError:
        return  # an image, but a huge one: decode_upload says so
    except Exception:  # Pillow raises many types for a non-image or a damaged one
        raise ValidationFailed(f"Not an image (JPEG, PNG, …): {name}", code="bad_image") from None


def predict_image(
    project_id: str,
    experiment_id: str,
    data: bytes,
    top_k: int = 5,
    source: str = "auto",
    file_name: str = "the upload",
) -> dict[str, Any]:
    """The model's answer for one image (see ``studio.ml.export.predict``: top-k classes,
    anomaly score + verdict, or values); says which model answered (export or checkpoint).
    A file that is not an image: 400 ``bad_image`` naming ``file_name`` (:func:`check_image`)."""
    if source not in PREDICT_SOURCES:
        raise ValidationFailed(
            f"Unknown source {source!r}",
            details={"source": [f"Choose one of: {', '.join(PREDICT_SOURCES)}"]},
        )
    check_image(data, file_name)
    experiment = selectors.experiment_get(project_id, experiment_id)
    export = selectors.newest_passing(project_id, experiment_id) if source != "checkpoint" else None
    if source == "onnx" and export is None:
        raise NotFound(
            "This experiment has no ONNX export that passed validation; export one first",
            code="no_passing_export",
        )
    if export is not None:
        path = store.model_path(ws(), export)
        predictor = predict_core.export_predictor(path, path.parent, export.format, export.sha256)
        used: dict[str, Any] = {
            "source": "onnx",
            "export_id": export.id,
            "checkpoint": export.checkpoint,
        }
    else:
        names = store.checkpoints(ws(), project_id, experiment_id)
        name = "best.ckpt" if "best.ckpt" in names else "last.ckpt"
        path = store.require_exportable(ws(), experiment, name)
        settings = default_settings(ws(), experiment, name)
        predictor = predict_core.checkpoint_predictor(path, settings)
        used = {"source": "checkpoint", "export_id": None, "checkpoint": name}
    result = predict_core.predict(predictor, data, top_k)
    return {**used, "model": predictor.model, **result}


def mirror_rebuild() -> int:
    """Drop every export row and reload them from the workspace; returns the count."""
    return rebuild_all()
