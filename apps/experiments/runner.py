"""Run one experiment's training under a lease: the shared body of the job and the CLI.

Contract of :func:`execute`:

1. **Lease.** Under the experiment lock it checks that the experiment still belongs to this
   job, is queued/running, and that no *other* owner holds a live lease (``heartbeat_at``
   younger than ``STUDIO_JOB_LEASE_SECONDS``); then it writes ``status=running``,
   ``lease_owner`` and ``heartbeat_at``. Otherwise it returns ``skipped`` without training:
   with Dramatiq's at-least-once delivery, at most one trainer ever runs an experiment.
2. A heartbeat thread refreshes ``heartbeat_at`` every lease/3 seconds. Every write checks
   that the lease is still ours; if a reconcile declared us dead meanwhile, training stops at
   the next batch and nothing more is written.
3. ``should_stop`` is true when ``.stop`` exists (``POST …/stop``), the job's cancel flag is
   set, or the lease was lost — checked at most twice a second.
4. Samples = the dataset's committed records that the split assigns (train/val/test);
   images are cached under ``projects/<pid>/.cache/training/`` so runs over the same split
   share the decoding work.
5. Outcome: ``completed`` / ``stopped`` (experiment.json updated, lease released) or a
   ``StudioError`` after the experiment was marked ``failed`` with the readable reason
   (checkpoints already written stay).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from django.conf import settings

from apps.core.workspace import ws
from apps.experiments import store
from apps.experiments.mirror import mirror_one
from studio.datasets import store as dataset_store
from studio.errors import StudioError, ValidationFailed
from studio.splits import store as split_store
from studio.storage import project_store
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus, MetricValue
from studio.storage.schemas import utcnow

if TYPE_CHECKING:  # the training core imports torch and Lightning: only when training
    from studio.ml.data import Sample
    from studio.ml.train import TrainingResult

log = logging.getLogger(__name__)
LAST = "checkpoints/last.ckpt"  # = studio.ml.train.LAST / BEST, without importing torch
BEST = "checkpoints/best.ckpt"
__all__ = ["BEST", "LAST", "Hooks", "Outcome", "build_samples", "execute"]
STOP_CHECK_EVERY_S = 0.5


class Hooks(Protocol):
    """Where a run reports to: a job (events on its SSE stream) or a terminal (tqdm)."""

    def event(self, type_: str, data: dict[str, Any]) -> None: ...

    def progress(self, done: int, total: int, message: str, data: dict[str, Any]) -> None: ...

    def cancel_requested(self) -> bool: ...


@dataclass
class Outcome:
    status: Literal["completed", "stopped", "skipped"]
    message: str
    result: dict[str, Any] = field(default_factory=dict)


def build_samples(project_id: str, split_id: str) -> tuple[list[Sample], Any, dict[str, int]]:
    """Samples of the split's images that are still in the dataset, the dataset, and counts."""
    from studio.ml.data import Sample

    split = split_store.load(ws(), project_id, split_id)
    dataset = dataset_store.load_dataset(ws(), project_id)
    root = dataset_store.dataset_paths(ws(), project_id).root
    samples: list[Sample] = []
    for record in dataset_store.iter_records(ws(), project_id):  # sorted by id: stable caches
        subset = split.assignments.get(record.id)
        if subset is not None:
            samples.append(Sample(image_path=root / record.path, record=record, subset=subset))
    missing = len(split.assignments) - len(samples)
    if not samples:
        raise ValidationFailed(
            "None of the split's images are in the dataset any more; make a new split",
            details={"split_id": [split_id]},
        )
    return samples, dataset, {"images": len(samples), "missing_from_dataset": missing}


class _Run:
    """The state of one execution: lease, stop checks, and experiment.json updates."""

    def __init__(self, project_id: str, experiment_id: str, owner: str, hooks: Hooks) -> None:
        self.pid, self.eid, self.owner, self.hooks = project_id, experiment_id, owner, hooks
        self.lease_s = float(settings.STUDIO_JOB_LEASE_SECONDS)
        self.lost = False
        self._stop_cached = False
        self._last_check = float("-inf")
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.batches_per_epoch = 0
        self.epochs = 0

    # -- experiment.json ------------------------------------------------------
    def update(self, change: Callable[[ExperimentFile], None], *, mirror: bool = True) -> bool:
        """Apply ``change`` if we still hold the lease; False (and ``lost``) otherwise."""
        ok = [False]

        def guarded(exp: ExperimentFile) -> bool:
            if exp.lease_owner != self.owner or exp.status != ExperimentStatus.running:
                self.lost = True
                return False
            change(exp)
            exp.heartbeat_at = utcnow()
            ok[0] = True
            return True

        exp = store.mutate(ws(), self.pid, self.eid, guarded)
        if ok[0] and mirror:
            _mirror_quietly(exp)
        return ok[0]

    def _heartbeat(self) -> None:
        while not self._beat_stop.wait(self.lease_s / 3):
            try:
                self.update(lambda exp: None, mirror=False)
            except Exception:
                log.warning("heartbeat of experiment %s failed", self.eid, exc_info=True)

    def start_heartbeat(self) -> None:
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name=f"beat-{self.eid}")
        self._beat.start()

    def stop_heartbeat(self) -> None:
        self._beat_stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)

    # -- callbacks of run_training ------------------------------------------
    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self._last_check >= STOP_CHECK_EVERY_S:
            self._last_check = now
            self._stop_cached = (
                self.lost
                or store.stop_requested(ws(), self.pid, self.eid)
                or self.hooks.cancel_requested()
            )
        return self._stop_cached

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "batch":
            batches = int(data.get("batches") or self.batches_per_epoch or 1)
            epochs = int(data.get("epochs") or self.epochs or 1)
            done = (int(data["epoch"]) - 1) * batches + int(data["batch"])
            message = f"Epoch {data['epoch']}/{epochs} · batch {data['batch']}/{batches}"
            self.hooks.progress(done, epochs * batches, message, {"stage": "train", **data})
            return
        if kind == "started":
            self.batches_per_epoch = int(data.get("batches_per_epoch") or 0)
            self.epochs = int(data.get("epochs") or 0)
            self.hooks.event("training_started", data)
            return
        self.hooks.event(kind, data)
        if kind == "epoch_end":
            metrics = data.get("metrics") or {}
            final = {
                k: float(v) for k, v in metrics.items()
                if k not in ("epoch", "time_s") and isinstance(v, int | float)
            }  # fmt: skip

            def epoch_done(exp: ExperimentFile) -> None:
                exp.epochs_done = int(data["epoch"])
                exp.final_metrics = final

            self.update(epoch_done)
        elif kind == "checkpoint_saved":
            self.update(lambda exp: _record_checkpoint(exp, data))


def _record_checkpoint(exp: ExperimentFile, data: dict[str, Any]) -> None:
    if data.get("kind") == "best":
        exp.best_checkpoint = str(data["path"])
        if data.get("value") is not None:
            exp.best_metric = MetricValue(
                name=str(data.get("metric")), value=float(data["value"]), epoch=data.get("epoch")
            )
    else:
        exp.last_checkpoint = str(data["path"])


def _mirror_quietly(exp: ExperimentFile) -> None:
    """The mirror is a cache the list repairs from disk; a busy database must not kill a run."""
    try:
        mirror_one(exp)
    except Exception:
        log.warning("could not mirror experiment %s", exp.id, exc_info=True)


def _acquire(
    project_id: str, experiment_id: str, owner: str, job_id: str | None, lease_s: float
) -> tuple[ExperimentFile, str]:
    """Take the lease; returns the experiment and "" or the reason it was not taken."""
    reason = [""]

    def claim(exp: ExperimentFile) -> bool:
        if job_id is not None and exp.job_id != job_id:
            reason[0] = f"the experiment now belongs to job {exp.job_id}"
        elif exp.status not in (ExperimentStatus.queued, ExperimentStatus.running):
            reason[0] = f"the experiment is {exp.status.value}"
        elif (
            exp.lease_owner
            and exp.lease_owner != owner
            and exp.heartbeat_at is not None
            and utcnow() - exp.heartbeat_at < timedelta(seconds=lease_s)
        ):
            reason[0] = f"{exp.lease_owner} is already training it"
        if reason[0]:
            return False
        now = utcnow()
        exp.status = ExperimentStatus.running
        exp.lease_owner = owner
        exp.heartbeat_at = now
        exp.started_at = exp.started_at or now
        exp.finished_at = None
        exp.error = ""
        return True

    exp = store.mutate(ws(), project_id, experiment_id, claim)
    return exp, reason[0]


def execute(
    project_id: str,
    experiment_id: str,
    *,
    owner: str,
    job_id: str | None,
    resume: bool,
    hooks: Hooks,
) -> Outcome:
    """Train the experiment now, in this process, if the lease can be taken (see module doc)."""
    lease_s = float(settings.STUDIO_JOB_LEASE_SECONDS)
    exp, skipped = _acquire(project_id, experiment_id, owner, job_id, lease_s)
    if skipped:
        log.info("experiment %s not trained by %s: %s", experiment_id, owner, skipped)
        return Outcome("skipped", f"Not trained here: {skipped}.")
    _mirror_quietly(exp)
    run = _Run(project_id, experiment_id, owner, hooks)
    if run.should_stop():
        return _stopped_before_start(run, exp)
    run.start_heartbeat()
    folder = store.experiment_dir(ws(), project_id, experiment_id)
    try:
        project = project_store.load(ws(), project_id)
        if not exp.split_id:
            raise ValidationFailed("The experiment names no split", details={"split_id": []})
        samples, dataset, counts = build_samples(project_id, exp.split_id)
        from studio.ml.tasks.registry import load_task
        from studio.ml.train import run_training

        config = load_task(project.task).make_config(exp.config)
        hooks.event("preparing", {"stage": "inputs", **counts})
        result = run_training(
            folder, samples, dataset, config, project.task, run.on_event, run.should_stop,
            resume=resume and (folder / LAST).is_file(),
            cache_dir=store.training_cache_dir(ws(), project_id),
        )  # fmt: skip
    except StudioError as exc:
        _fail(run, exc.message)
        raise
    except Exception as exc:
        _fail(run, f"Training failed: {type(exc).__name__}: {exc}")
        raise
    finally:
        run.stop_heartbeat()
    return _finish(run, result, folder)


def _stopped_before_start(run: _Run, exp: ExperimentFile) -> Outcome:
    folder = store.experiment_dir(ws(), run.pid, run.eid)
    back = ExperimentStatus.stopped if (folder / LAST).is_file() else ExperimentStatus.draft

    def change(e: ExperimentFile) -> None:
        e.status = back
        e.lease_owner = None

    run.update(change)
    store.clear_stop(ws(), run.pid, run.eid)
    run.hooks.event("stopped", {"reason": "Stopped before training began", "status": back.value})
    return Outcome("stopped", "Stopped on request before training began")


def _fail(run: _Run, reason: str) -> None:
    folder = store.experiment_dir(ws(), run.pid, run.eid)

    def change(exp: ExperimentFile) -> None:
        exp.status = ExperimentStatus.failed
        exp.error = reason
        exp.finished_at = utcnow()
        exp.lease_owner = None
        exp.last_checkpoint = LAST if (folder / LAST).is_file() else exp.last_checkpoint
        exp.best_checkpoint = BEST if (folder / BEST).is_file() else exp.best_checkpoint

    try:
        run.update(change)
    except StudioError:
        log.warning("could not record the failure of experiment %s", run.eid, exc_info=True)
    store.clear_stop(ws(), run.pid, run.eid)


def _finish(run: _Run, result: TrainingResult, folder: Any) -> Outcome:
    summary = {
        "epochs_done": result.epochs_done,
        "best_metric": result.best_metric,
        "final_metrics": result.final_metrics,
        "early_stopped": result.early_stopped,
    }
    if run.lost:
        return Outcome(
            "stopped", "Stopped: this trainer's lease was taken over (it was thought dead)", summary
        )
    status = ExperimentStatus(result.status)

    def change(exp: ExperimentFile) -> None:
        exp.status = status
        exp.epochs_done = result.epochs_done
        exp.last_checkpoint = result.last_checkpoint
        exp.best_checkpoint = result.best_checkpoint
        if result.best_metric:
            exp.best_metric = MetricValue(**result.best_metric)
        if result.final_metrics:
            exp.final_metrics = dict(result.final_metrics)
        exp.lease_owner = None
        if status == ExperimentStatus.completed:
            exp.finished_at = utcnow()

    if not run.update(change):  # declared dead in the last moment: its owner now decides
        return Outcome("stopped", "Stopped: this trainer's lease was taken over", summary)
    store.clear_stop(ws(), run.pid, run.eid)
    if status == ExperimentStatus.completed:
        run.hooks.event("finished", {"status": "completed", **summary})
        return Outcome("completed", "Training completed", summary)
    reason = "Stopped on request; resume continues from the last checkpoint"
    run.hooks.event("stopped", {"status": "stopped", "reason": reason, **summary})
    return Outcome("stopped", reason, summary)
