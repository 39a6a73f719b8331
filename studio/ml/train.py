"""The training entry point: :func:`run_training`.

Callers (the Dramatiq worker, tests, benchmarks) hand over everything: the run folder, the
samples with their subsets, the dataset file, a validated config, a task name and two
callbacks. The function never reads the workspace on its own and never prints.

Files in ``run_dir``::

    metrics.json              per-epoch rows, rewritten atomically after every epoch
    checkpoints/last.ckpt     every epoch end, and when stopped (mid-epoch)
    checkpoints/best.ckpt     the epoch with the best monitored validation metric

Events (``on_event(type, data)``), in order: ``preparing`` (cache progress, throttled),
``started``, then per epoch ``batch``… (≤ 2/s), ``epoch_end``, ``checkpoint_saved``
(``last``, then ``best`` when it improved). See ``docs/ml.md`` for the payloads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from studio.errors import StudioError, ValidationFailed
from studio.ml.catalog import get_spec
from studio.ml.checkpoints import build_metadata, read_metadata
from studio.ml.data import Sample, StudioDataModule
from studio.ml.hparams import TrainingConfig
from studio.ml.tasks.base import Task
from studio.ml.tasks.registry import load_task
from studio.ml.weights import normalization
from studio.storage.jsonio import read_json

if TYPE_CHECKING:
    from studio.storage.dataset_schemas import DatasetFile

EventFn = Callable[[str, dict[str, Any]], None]
LAST = "checkpoints/last.ckpt"
BEST = "checkpoints/best.ckpt"


@dataclass(frozen=True)
class TrainingResult:
    """How a run ended. Checkpoint paths are relative to ``run_dir`` (None if absent)."""

    status: Literal["completed", "stopped"]
    epochs_done: int
    best_metric: dict[str, Any] | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    final_metrics: dict[str, float] = field(default_factory=dict)
    early_stopped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _throttled(on_event: EventFn, kind: str, interval_s: float = 0.5) -> Callable[[int, int], None]:
    last = [float("-inf")]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= interval_s:
            last[0] = now
            on_event(kind, {"stage": "cache", "done": done, "total": total})

    return progress


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def _check_resume(task: Task, config: TrainingConfig, last: Path, num_outputs: int) -> None:
    if not last.is_file():
        raise ValidationFailed(
            "This run has no last checkpoint to resume from; start it again instead",
            code="nothing_to_resume",
        )
    meta = read_metadata(last)  # also proves the file loads with weights_only=True
    if meta.task != task.name or meta.model != config.model:
        raise ValidationFailed(
            f"The checkpoint was trained as {meta.task}/{meta.model}, not "
            f"{task.name}/{config.model}; start a new run instead of resuming",
            code="resume_mismatch",
        )
    if meta.num_outputs != num_outputs:
        raise ValidationFailed(
            "The dataset's classes changed since this run started; start a new run "
            "instead of resuming",
            code="resume_mismatch",
        )


def run_training(
    run_dir: Path,
    samples: Sequence[Sample],
    dataset: DatasetFile,
    config: TrainingConfig,
    task_name: str,
    on_event: EventFn,
    should_stop: Callable[[], bool],
    resume: bool = False,
    *,
    cache_dir: Path | None = None,
) -> TrainingResult:
    """Train ``task_name`` on ``samples`` with ``config``; write metrics and checkpoints.

    ``cache_dir`` holds the training-resolution image caches (default ``run_dir/cache``;
    pass a per-project folder so runs over the same split share them). ``resume=True``
    continues from ``checkpoints/last.ckpt`` (model, optimizer, scheduler, epoch) and
    drops metric rows of the epochs it re-does.

    Returns status ``completed`` (all epochs, or early stopping) or ``stopped``
    (``should_stop()`` became true; ``last.ckpt`` holds the state). Every failure raises a
    ``StudioError`` with a readable message; checkpoints already written stay in place.
    """
    import lightning.pytorch as pl
    import torch

    from studio.ml.module import StudioModule
    from studio.ml.trainer import (
        BackgroundWriter,
        EventsCallback,
        StopCallback,
        StudioCheckpoint,
        TrainingStopped,
        build_trainer,
        early_stopping,
        quiet_lightning,
    )

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    task: Task = load_task(task_name)
    task.check_config(config)
    spec = get_spec(config.model, task.name)
    num_outputs = task.num_outputs(dataset)
    last = run_dir / LAST
    if resume:
        _check_resume(task, config, last, num_outputs)

    with quiet_lightning():
        pl.seed_everything(config.seed, workers=True, verbose=False)
        try:
            datamodule = StudioDataModule(
                task,
                samples,
                dataset,
                config,
                cache_dir or run_dir / "cache",
                on_progress=_throttled(on_event, "preparing"),
                pin_memory=torch.cuda.is_available(),
            )
            datamodule.prepare()
            model = task.build_model(spec, num_outputs, config)
            mean, std = normalization(spec, pretrained=config.pretrained)
            metadata = build_metadata(
                task=task,
                config=config,
                num_outputs=num_outputs,
                class_names=task.output_names(dataset),
                task_state=datamodule.task_state,
                mean=mean,
                std=std,
            )
            module = StudioModule(
                task, model, config, num_outputs=num_outputs, mean=mean, std=std, metadata=metadata
            )
            monitor = f"val_{task.monitor}"
            info = {"task": task.name, "model": spec.key, **datamodule.counts()}
            info["skipped"] = datamodule.skipped
            info["resumed"] = resume
            # checkpoint files, events and metrics.json go out on this thread, in order
            writer = BackgroundWriter()
            events = EventsCallback(on_event, run_dir / "metrics.json", info, writer)
            checkpoint = StudioCheckpoint(
                run_dir / "checkpoints",
                monitor,
                task.monitor_mode,
                events.on_event,
                events.publish_epoch,
            )
            callbacks: list[Any] = [events, StopCallback(should_stop, checkpoint, writer)]
            stopper = None
            if config.early_stopping_patience > 0:
                stopper = early_stopping(monitor, task.monitor_mode, config.early_stopping_patience)
                callbacks.append(stopper)
            callbacks.append(checkpoint)
            trainer = build_trainer(config, run_dir, callbacks, writer)
            if not resume:  # a fresh start: checkpoints of an earlier attempt must not linger
                for stale in (run_dir / LAST, run_dir / BEST):
                    stale.unlink(missing_ok=True)
            status: Literal["completed", "stopped"] = "completed"
            try:
                trainer.fit(
                    module,
                    datamodule=datamodule,
                    ckpt_path=str(last) if resume else None,
                    weights_only=True,
                )
            except TrainingStopped:
                status = "stopped"
            except BaseException:
                writer.close(raise_error=False)  # what was queued still goes out
                raise
            writer.close()  # every checkpoint file and event is out; a failed write raises
        except StudioError:
            raise
        except Exception as exc:
            if _is_oom(exc):
                raise StudioError(
                    "Training ran out of memory. Lower the batch size or the image size, "
                    "or choose a smaller model.",
                    code="out_of_memory",
                ) from exc
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StudioError(
                f"Training failed: {reason}",
                code="training_failed",
                details={"type": type(exc).__name__},
            ) from exc

    # metrics.json is the record (a resumed, already finished run trains nothing and
    # never reaches the callbacks); Lightning's loop counters say how many epochs are done.
    rows = read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").is_file() else []
    epochs_done = int(trainer.fit_loop.epoch_progress.current.completed)
    final = {k: v for k, v in (rows[-1] if rows else {}).items() if k not in ("epoch", "time_s")}
    best = None
    if checkpoint.best_score is not None:
        best = {"name": monitor, "value": checkpoint.best_score, "epoch": checkpoint.best_epoch}
    return TrainingResult(
        status=status,
        epochs_done=epochs_done,
        best_metric=best,
        best_checkpoint=BEST if (run_dir / BEST).is_file() else None,
        last_checkpoint=LAST if last.is_file() else None,
        final_metrics={k: float(v) for k, v in final.items() if v is not None},
        early_stopped=bool(stopper is not None and stopper.stopped_epoch > 0),
    )
