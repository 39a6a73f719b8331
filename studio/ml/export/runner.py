"""One export from start to finish: :func:`plan_export` (cheap checks, ``export.json``
queued) and :func:`run_export` (checkpoint → file → validation → ``export.json``).

``run_export`` is what the worker's job, ``manage.py export`` and the tests call. It never
prints; progress goes through ``on_progress(done, total, message)`` where ``total`` is
``3 + parity images`` (load, export, numeric check, then one step per image). Every
failure is saved in ``export.json`` (status ``failed`` / ``cancelled`` + ``error``) and
raised as a ``StudioError``; a failed *validation* is not an error: the export completes
with ``validation.passed = false`` and the page shows it as failed.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import studio
from studio.errors import Conflict, StudioError
from studio.ml.export import format_info, get_format
from studio.ml.export.base import (
    INPUT_NAME,
    OPSET_DEFAULT,
    ExportFormat,
    ExportSpec,
    check_opset,
    check_task,
    task_settings,
)
from studio.ml.export.outputs import kind_for
from studio.ml.export.store import (
    TargetFn,
    evaluation_of,
    export_dir,
    exports_lock,
    load_export,
    read_experiment,
    require_exportable,
    save_export,
    validation_images,
)
from studio.ml.export.validate import (
    DEFAULT_ATOL,
    DEFAULT_PARITY,
    DEFAULT_RTOL,
    NUMERIC_BATCH,
    Preprocess,
    ValidationCancelled,
    decode_many,
    numeric_check,
    parity_check,
    summarize,
)
from studio.storage.experiment_schemas import ExperimentFile
from studio.storage.export_schemas import ExportFile, ExportTimings
from studio.storage.locks import resource_lock
from studio.storage.paths import Workspace, new_id
from studio.storage.schemas import utcnow

ProgressFn = Callable[[int, int, str], None]


class ExportCancelled(StudioError):
    code = "cancelled"


def plan_export(
    ws: Workspace,
    project_id: str,
    experiment_id: str,
    *,
    fmt: str,
    checkpoint: str = "best.ckpt",
    opset: Any = None,
    options: Mapping[str, Any] | None = None,
) -> ExportFile:
    """Validate a request (no model is loaded) and write its ``export.json`` (status queued).

    ``opset`` applies to formats that use one (ONNX; default 17) and is ignored otherwise.
    ``options`` are task-specific (anomaly detection: ``threshold``); the task resolves them
    now (:func:`~studio.ml.export.base.task_settings`, which may read the experiment's
    evaluation of ``checkpoint``) into ``export.settings``, written into the file later.
    """
    info = format_info(fmt)
    opset_value = (
        check_opset(OPSET_DEFAULT if opset in (None, "") else opset) if info.uses_opset else None
    )
    experiment = read_experiment(ws, project_id, experiment_id)
    task = check_task(experiment.task)
    require_exportable(ws, experiment, checkpoint)
    settings = task_settings(
        task, options or {}, lambda: evaluation_of(ws, project_id, experiment_id, checkpoint)
    )
    export = ExportFile(
        id=new_id(), project_id=project_id, experiment_id=experiment_id, format=info.key,
        checkpoint=checkpoint, opset=opset_value, task=experiment.task,
        model=str(experiment.config.get("model", "")), studio_version=studio.__version__,
        settings=settings,
    )  # fmt: skip
    with resource_lock(exports_lock(ws, project_id, experiment_id)):
        save_export(ws, export)
    return export


def _save(ws: Workspace, export: ExportFile) -> None:
    """Save under the lock, unless the export folder was deleted meanwhile."""
    with resource_lock(exports_lock(ws, export.project_id, export.experiment_id)):
        if not export_dir(ws, export.project_id, export.experiment_id, export.id).is_dir():
            raise ExportCancelled("The export was deleted while it ran")
        save_export(ws, export)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:60] or "model"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_export(
    ws: Workspace,
    project_id: str,
    experiment_id: str,
    export_id: str,
    *,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    threshold: float = DEFAULT_PARITY,
    job_id: str | None = None,
) -> ExportFile:
    """Export and validate the planned (queued) export ``export_id``; returns the final record.

    Each save of ``export.json`` holds the experiment's exports lock and stops the run
    (``ExportCancelled``) if the export was deleted meanwhile.
    """
    with resource_lock(exports_lock(ws, project_id, experiment_id)):
        export = load_export(ws, project_id, experiment_id, export_id)
        if export.status != "queued":
            raise Conflict(
                f"Export {export_id!r} has already run (status: {export.status})",
                code="export_not_queued",
            )
        export.status, export.error = "running", ""
        export.job_id = job_id or export.job_id
        save_export(ws, export)
    folder = export_dir(ws, project_id, experiment_id, export_id)
    progress = on_progress or (lambda done, total, message: None)
    stop = should_stop or (lambda: False)
    started = time.perf_counter()
    fmt = get_format(export.format)
    dest = folder / f"model{fmt.extension}"
    try:
        export = _run(ws, export, fmt, dest, progress, stop, rtol, atol, threshold, started)
    except (ExportCancelled, ValidationCancelled) as exc:
        _fail(ws, export, dest, "cancelled", exc.message, started)
        raise ExportCancelled(exc.message) from exc
    except StudioError as exc:
        _fail(ws, export, dest, "failed", exc.message, started)
        raise
    except Exception as exc:  # an unexpected bug still ends as a readable, saved failure
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _fail(ws, export, dest, "failed", f"Export failed: {reason}", started)
        raise StudioError(f"Export failed: {reason}", code="export_failed") from exc
    return export


def _fail(
    ws: Workspace, export: ExportFile, dest: Path, status: str, error: str, started: float
) -> None:
    dest.unlink(missing_ok=True)  # never leave a file that was not validated to be downloaded
    export.status = status  # type: ignore[assignment]
    export.error = error
    export.file = export.sha256 = None
    export.size = None
    export.finished_at = utcnow()
    export.timings.total_s = round(time.perf_counter() - started, 3)
    with contextlib.suppress(ExportCancelled):  # deleted meanwhile: nothing left to record
        _save(ws, export)


def _run(
    ws: Workspace,
    export: ExportFile,
    fmt: ExportFormat,
    dest: Path,
    progress: ProgressFn,
    stop: Callable[[], bool],
    rtol: float,
    atol: float,
    threshold: float,
    started: float,
) -> ExportFile:
    import numpy as np
    import torch

    from studio.ml.checkpoints import load_for_inference

    experiment = read_experiment(ws, export.project_id, export.experiment_id)
    ckpt = require_exportable(ws, experiment, export.checkpoint)
    progress(0, 3, f"Loading {export.checkpoint}")
    model, meta = load_for_inference(ckpt)
    task = check_task(meta.task)
    task.load_state(meta.task_state)
    # the task's graph (e.g. + sigmoid, + undoing the target z-score) and its output contract
    graph = task.export_module(model).eval()
    output = {**task.export_output(meta.num_outputs), **export.settings}
    kind = kind_for(output)
    spec = ExportSpec(
        meta=meta, project_id=export.project_id, experiment_id=export.experiment_id,
        export_id=export.id, checkpoint=export.checkpoint, normalize=task.normalize_inputs,
        opset=export.opset, output=output,
    )  # fmt: skip
    subset, items = validation_images(ws, experiment, _targets(task) if kind.labelled else None)
    total = 3 + len(items)
    loaded_at = time.perf_counter()
    export.timings = ExportTimings(load_s=round(loaded_at - started, 3))
    if stop():
        raise ExportCancelled("Cancelled on request")

    progress(1, total, f"Exporting to {format_info(export.format).label}")
    size = meta.image_size
    with torch.no_grad():
        written = fmt.export(graph, torch.zeros(2, 3, size, size), dest, spec)
    export.file = dest.name
    export.size = dest.stat().st_size
    export.sha256 = _sha256(dest)
    export.exporter = written.exporter
    export.opset_used = written.opset_used
    export.task, export.model, export.class_names = meta.task, meta.model, list(meta.class_names)
    export.input_name, export.output_name = INPUT_NAME, output["output_name"]
    export.output = output
    export.input_shape = spec.input_shape
    export.download_name = f"{_slug(experiment.name)}-{meta.model}-{export.id}{fmt.extension}"
    exported_at = time.perf_counter()
    export.timings.export_s = round(exported_at - loaded_at, 3)
    _save(ws, export)
    if stop():
        raise ExportCancelled("Cancelled on request")

    progress(2, total, "Checking the exported file against PyTorch")
    loaded = fmt.load(dest, dest.parent)

    def reference(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out: np.ndarray = graph(torch.from_numpy(x)).float().numpy()
        return out

    pre = Preprocess(size, meta.mean, meta.std, task.normalize_inputs)
    images, kept = decode_many(items[: NUMERIC_BATCH * 2], size)
    if len(kept):
        batch = pre.to_input(images[:NUMERIC_BATCH])
        if len(batch) == 1:  # the dynamic batch axis must see more than one image
            batch = np.concatenate([batch, batch])
        source: Any = subset
    else:
        rng = np.random.default_rng(0)
        batch = rng.standard_normal((NUMERIC_BATCH, 3, size, size)).astype(np.float32)
        source = "random"
    numeric = numeric_check(reference, loaded.run, batch, source, rtol=rtol, atol=atol, kind=kind)
    parity = None
    if items:
        parity = parity_check(
            reference, loaded.run, items, pre, subset, threshold=threshold,
            on_progress=lambda d, t: progress(3 + d, total, f"Parity check: {d}/{t} {subset} images"),
            should_stop=stop, kind=kind, metadata=output, rtol=rtol, atol=atol,
        )  # fmt: skip
        if parity.images == 0:
            parity = None
    export.validation = summarize(numeric, parity, kind)
    done_at = time.perf_counter()
    export.timings.validate_s = round(done_at - exported_at, 3)
    export.timings.total_s = round(done_at - started, 3)
    export.status = "completed"
    export.finished_at = utcnow()
    _save(ws, export)
    progress(total, total, export.validation.message)
    return export


def _targets(task: Any) -> TargetFn:
    """Each usable record's target as the task computes it for training (class index,
    1 = anomalous), as an int; None for unusable records and labels the model never saw."""

    def target(record: Any, dataset: Any) -> int | None:
        if not task.usable(record, dataset):
            return None
        try:
            return int(task.target_from_record(record, dataset))
        except (ValueError, TypeError, KeyError):  # a class added after training
            return None

    return target


def default_settings(ws: Workspace, experiment: ExperimentFile, checkpoint: str) -> dict[str, str]:
    """The settings an export of ``checkpoint`` would get without options (what "try it" on
    the checkpoint uses; anomaly: the evaluation's threshold, else 0.5)."""
    task = check_task(experiment.task)
    pid, eid = experiment.project_id, experiment.id
    return task_settings(task, {}, lambda: evaluation_of(ws, pid, eid, checkpoint))
