"""Evaluation writes: ``evaluation/*.json`` first (under the experiment's evaluation lock),
then the mirror. The job handler, the in-process run (``manage.py evaluate``) and reset.

Every evaluation start gets a new ``run_id``; a writer only touches the files while
``evaluation.json`` still carries its ``run_id``, so a run whose evaluation was reset (or
replaced) finishes quietly without writing anything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apps.core.job_context import JobCancelled, JobContext
from apps.core.services import job_cancel, job_submit
from apps.core.workspace import ws
from apps.evaluation.mirror import forget, mirror_evaluation, rebuild_all
from apps.projects.selectors import project_require
from studio.errors import Conflict, NotFound, StudioError
from studio.ml import evaluate as core
from studio.ml import evaluation_files
from studio.storage import job_store
from studio.storage.evaluation_schemas import (
    CheckpointRef,
    EvaluationConfig,
    EvaluationRecord,
    EvaluationStatus,
)
from studio.storage.paths import new_id

log = logging.getLogger(__name__)
JOB_KIND = "evaluation"
OWNER_CHECK_SECONDS = 1.0  # how often a running evaluation checks it was not reset
_JOB_END = {"cancelled": EvaluationStatus.cancelled, "interrupted": EvaluationStatus.interrupted}
ProgressFn = Callable[[int, int], None]


def _now() -> datetime:
    return datetime.now(UTC)


def _paths(project_id: str, experiment_id: str) -> evaluation_files.EvaluationPaths:
    return evaluation_files.evaluation_paths(ws(), project_id, experiment_id)


def _update(
    project_id: str, experiment_id: str, run_id: str, change: Callable[[EvaluationRecord], None]
) -> EvaluationRecord | None:
    """Apply ``change`` (which may write other files) while the evaluation is still
    ``run_id``; then mirror. None when it was reset or replaced meanwhile."""
    paths = _paths(project_id, experiment_id)
    with evaluation_files.evaluation_lock(paths):
        record = evaluation_files.read_record(paths)
        if record is None or record.run_id != run_id:
            return None
        change(record)
        evaluation_files.save_record(paths, record)
    mirror_evaluation(project_id, experiment_id)
    return record


# ----------------------------------------------------------------- reconcile


def _runner_dead(runner: str) -> bool:
    host, _, pid = runner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process: cannot tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _stale_reason(record: EvaluationRecord) -> tuple[EvaluationStatus, str] | None:
    """Why an active evaluation is in fact over (its job or process ended), or None."""
    if record.job_id:
        try:
            job = job_store.load(ws(), record.job_id)
        except NotFound:
            return EvaluationStatus.interrupted, "Interrupted: its job record is gone."
        if not job.status.terminal:
            return None
        status = _JOB_END.get(job.status.value, EvaluationStatus.failed)
        return status, job.error or f"The evaluation job ended ({job.status.value})."
    if record.runner and _runner_dead(record.runner):
        return EvaluationStatus.interrupted, "Interrupted: the process running it stopped."
    return None


def evaluation_reconcile(project_id: str, experiment_id: str) -> EvaluationRecord | None:
    """The evaluation record, with a dead run (worker killed, job cancelled while queued)
    marked as such; None if the experiment was never evaluated."""
    paths = _paths(project_id, experiment_id)
    record = evaluation_files.read_record(paths)
    if record is None or not record.status.active:
        return record
    stale = _stale_reason(record)
    if stale is None:
        return record
    status, error = stale

    def end(r: EvaluationRecord) -> None:
        if r.status.active:
            r.status, r.error, r.finished_at = status, error, _now()

    return _update(project_id, experiment_id, record.run_id, end) or evaluation_files.read_record(
        paths
    )


# ----------------------------------------------------------------- start / reset


def default_device() -> str:
    return core.available_devices()[-1]  # cuda when present


def _begin(
    project_id: str, experiment_id: str, config: EvaluationConfig, runner: str = ""
) -> EvaluationRecord:
    project_require(project_id)
    plan = core.plan_evaluation(ws(), project_id, experiment_id, config)
    paths = _paths(project_id, experiment_id)
    evaluation_reconcile(project_id, experiment_id)
    with evaluation_files.evaluation_lock(paths):
        current = evaluation_files.read_record(paths)
        if current is not None and current.status.active:
            raise Conflict(
                "This experiment is being evaluated already; wait for it to finish or reset it",
                code="evaluation_running",
                details={"job_id": current.job_id},
            )
        evaluation_files.clear_outputs(paths)
        record = EvaluationRecord(
            project_id=project_id, experiment_id=experiment_id, run_id=new_id("ev"),
            config=plan.config, task=plan.experiment.task, split_id=plan.experiment.split_id,
            subsets=plan.subset_sizes, runner=runner,
        )  # fmt: skip
        evaluation_files.save_record(paths, record)
    mirror_evaluation(project_id, experiment_id)
    return record


def evaluation_start(
    project_id: str, experiment_id: str, config: EvaluationConfig
) -> EvaluationRecord:
    """Check, record ``queued`` (replacing a finished evaluation) and queue the job.

    409 ``not_trained`` / ``experiment_running`` / ``evaluation_running``, 404 for a
    missing checkpoint, 400 for empty subsets or an unavailable device.
    """
    record = _begin(project_id, experiment_id, config)
    params = {"project_id": project_id, "experiment_id": experiment_id, "run_id": record.run_id}
    try:
        job = job_submit(JOB_KIND, params, project_id)
    except Exception as exc:
        message = f"The evaluation could not be queued: {exc}"

        def failed(r: EvaluationRecord) -> None:
            r.status, r.error, r.finished_at = EvaluationStatus.failed, message, _now()

        _update(project_id, experiment_id, record.run_id, failed)
        raise

    def attach(r: EvaluationRecord) -> None:
        r.job_id = r.job_id or job.id

    return _update(project_id, experiment_id, record.run_id, attach) or record


def evaluation_reset(project_id: str, experiment_id: str) -> None:
    """Delete the evaluation folder now (asking a running job to stop) and its mirror rows."""
    project_require(project_id)
    evaluation_files.read_experiment(ws(), project_id, experiment_id)
    paths = _paths(project_id, experiment_id)
    with evaluation_files.evaluation_lock(paths):
        try:
            record = evaluation_files.read_record(paths)
        except StudioError:  # a damaged file is reset too
            record = None
        if record is not None and record.status.active and record.job_id:
            with contextlib.suppress(StudioError):
                job_cancel(record.job_id)
        evaluation_files.delete_evaluation(paths)
    forget(project_id, experiment_id)


# ----------------------------------------------------------------- running


class _Owner:
    """``should_stop`` for the core: the job was cancelled, or the evaluation was reset."""

    def __init__(
        self, paths: evaluation_files.EvaluationPaths, run_id: str, cancel: Callable[[], bool]
    ):
        self.paths, self.run_id, self.cancel = paths, run_id, cancel
        self.lost = False
        self._checked = time.monotonic()

    def __call__(self) -> bool:
        if time.monotonic() - self._checked >= OWNER_CHECK_SECONDS:
            self._checked = time.monotonic()
            with contextlib.suppress(StudioError):
                record = evaluation_files.read_record(self.paths)
                self.lost = record is None or record.run_id != self.run_id
        return self.lost or self.cancel()


def _execute(
    project_id: str,
    experiment_id: str,
    run_id: str,
    *,
    job_id: str | None,
    progress: ProgressFn,
    should_stop: Callable[[], bool],
) -> dict[str, Any]:
    """Run the evaluation ``run_id`` to the end and write its files (see module docstring)."""
    paths = _paths(project_id, experiment_id)

    def start(r: EvaluationRecord) -> None:
        if r.status != EvaluationStatus.queued:
            raise Conflict("This evaluation already ran", code="evaluation_running")
        r.status, r.started_at, r.job_id = EvaluationStatus.running, _now(), job_id or r.job_id

    try:
        record = _update(project_id, experiment_id, run_id, start)
    except Conflict:
        record = None
    if record is None:
        return {"discarded": True}
    owner = _Owner(paths, run_id, should_stop)
    try:
        plan = core.plan_evaluation(ws(), project_id, experiment_id, record.config)
        progress(0, 0)
        model, meta = core.load_checkpoint(plan.checkpoint, record.config.device)
        evaluator = core.evaluator_for(meta.task)
        samples, dataset, skipped = core.collect_samples(ws(), plan, evaluator, meta)
        stat = plan.checkpoint.stat()
        ref = CheckpointRef(
            name=plan.checkpoint.name, size=stat.st_size,
            modified=datetime.fromtimestamp(stat.st_mtime, UTC), epochs_done=meta.epochs_done,
            model=meta.model, image_size=meta.image_size,
        )  # fmt: skip
        counts = Counter(s.subset for s in samples)

        def describe(r: EvaluationRecord) -> None:
            r.checkpoint, r.skipped = ref, skipped
            r.subsets = {s: counts.get(s, 0) for s in r.config.subsets}

        if _update(project_id, experiment_id, run_id, describe) is None:
            return {"discarded": True}
        progress(0, len(samples))
        results, aggregate = core.run_evaluation(
            model, meta, samples, dataset, checkpoint_name=ref.name,
            batch_size=record.config.batch_size, on_progress=progress, should_stop=owner,
        )  # fmt: skip

        def complete(r: EvaluationRecord) -> None:
            evaluation_files.write_outputs(paths, results, aggregate)
            r.status, r.finished_at, r.error = EvaluationStatus.completed, _now(), ""
            r.accuracy = aggregate.overall.accuracy if aggregate.overall else None
            r.headline, r.headline_value = aggregate.headline

        if _update(project_id, experiment_id, run_id, complete) is None:
            return {"discarded": True}
    except BaseException as exc:
        if owner.lost:
            return {"discarded": True}
        status = EvaluationStatus.failed
        if isinstance(exc, core.EvaluationCancelled):
            status = EvaluationStatus.cancelled
        elif isinstance(exc, KeyboardInterrupt):
            status = EvaluationStatus.interrupted
        message = exc.message if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"

        def end(r: EvaluationRecord) -> None:
            r.status, r.error, r.finished_at = status, message, _now()

        with contextlib.suppress(Exception):
            _update(project_id, experiment_id, run_id, end)
        raise
    name, value = aggregate.headline
    return {name: value, "headline": name, "images": len(results.results), "checkpoint": ref.name}


def run_evaluation_job(ctx: JobContext) -> dict[str, Any]:
    """Job handler (kind ``evaluation``): params ``project_id``, ``experiment_id``, ``run_id``."""
    params = ctx.params

    def progress(done: int, total: int) -> None:
        message = f"Evaluated {done} of {total} images" if total else "Loading the checkpoint"
        ctx.progress(done, total, message, force=done == 0 or done >= total,
                     data={"stage": "inference" if total else "loading"})  # fmt: skip

    try:
        result = _execute(
            params["project_id"], params["experiment_id"], params["run_id"],
            job_id=ctx.job_id, progress=progress, should_stop=ctx.cancel_requested,
        )  # fmt: skip
    except core.EvaluationCancelled as exc:
        raise JobCancelled(exc.message) from exc
    if result.get("discarded") and ctx.cancel_requested():
        raise JobCancelled("The evaluation was reset")
    return result


def evaluation_run_inline(
    project_id: str, experiment_id: str, config: EvaluationConfig, progress: ProgressFn
) -> EvaluationRecord:
    """Evaluate in this process (``manage.py evaluate``); the record of the finished run."""
    runner = f"{socket.gethostname()}:{os.getpid()}"
    record = _begin(project_id, experiment_id, config, runner=runner)
    _execute(project_id, experiment_id, record.run_id, job_id=None, progress=progress,
             should_stop=lambda: False)  # fmt: skip
    final = evaluation_files.read_record(_paths(project_id, experiment_id))
    if final is None:
        raise Conflict("The evaluation was reset while it ran", code="evaluation_reset")
    return final


def mirror_rebuild() -> int:
    """Drop every evaluation row and reload them from the workspace; returns the count.

    Must be called from ``apps/core/management/commands/rebuild_mirror.py``.
    """
    return rebuild_all()
