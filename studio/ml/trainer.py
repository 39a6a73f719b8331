"""Lightning ``Trainer`` factory and Studio's callbacks (events, checkpoints, stop).

Callbacks, in the order Lightning calls them at the end of an epoch:

1. :class:`EventsCallback` — ``started`` (training start), ``batch`` (throttled to at most
   2 per second, with images/s and ETA); at an epoch end it adds the epoch's metrics row to
   its rows, which are part of every checkpoint (its ``state_dict``).
2. :class:`StopCallback` — asks ``should_stop()`` after every training batch; when true it
   lets the batch finish, saves ``last.ckpt`` and raises :class:`TrainingStopped`, which
   :func:`studio.ml.train.run_training` turns into status ``stopped``.
3. Lightning's ``EarlyStopping`` when ``early_stopping_patience > 0``.
4. :class:`StudioCheckpoint` — ``last.ckpt`` every epoch (everything a resume needs:
   weights, optimizer, scheduler, loops, callbacks) and ``best.ckpt`` when the monitored
   metric improves (weights + loops + Studio's metadata only: nothing resumes from it;
   evaluation and export read ``state_dict`` and ``"studio"``), in
   ``<run_dir>/checkpoints/``, each written to a temp file, fsynced and renamed, so a crash
   leaves the previous good checkpoint; emits ``checkpoint_saved``. Then, and only then, it
   has :meth:`EventsCallback.publish_epoch` rewrite ``<run_dir>/metrics.json`` and emit
   ``epoch_end`` (epoch number + the metrics row). (Lightning runs ``Checkpoint`` callbacks
   after all others, so this is the last hook.)

Why this order: whoever reads "epoch N done" (the event, ``metrics.json``) can rely on
``last.ckpt`` holding epoch N. A resume takes the rows from the checkpoint it resumes
(rows of later epochs are re-done, never duplicated), so a worker killed between the
checkpoint and ``metrics.json`` loses no row either.

**Off the training thread.** Writing a 128 MB ``last.ckpt`` (serialise, fsync, rename) and
delivering events (each an fsynced log line, a job.json rewrite, a database row) cost
~0.5 s per epoch on a 2-core CPU, ~15 % of a 3.5 s ResNet-18 epoch on digits, all of it
waiting on the training thread. A :class:`BackgroundWriter` (one thread) now does both, in
submission order, so the order above holds exactly: the checkpoint IO takes a CPU copy of
the state at the epoch end (~0.03 s per 45 MB; training goes on changing the weights) and
the file, the ``checkpoint_saved`` event, ``metrics.json`` and ``epoch_end`` follow on the
writer while the next epoch trains. A stop (``StopCallback``) and the end of ``fit`` wait
for the writer, so when :func:`studio.ml.train.run_training` returns every file and event
is out. A failed write is raised on the training thread at its next hook (training fails
as it did when the write was inline) and nothing queued after it runs.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping
from lightning.pytorch.plugins.io import TorchCheckpointIO

from studio.errors import ValidationFailed
from studio.ml.hparams import TrainingConfig, precision_problem
from studio.storage.jsonio import fsync_dir, read_json, write_json_atomic

EventFn = Callable[[str, dict[str, Any]], None]
BATCH_EVENT_INTERVAL_S = 0.5  # ≤ 2 batch events per second: enough for a progress bar


class TrainingStopped(Exception):
    """Raised inside ``fit`` after a requested stop has saved ``last.ckpt``."""


class BackgroundWriter:
    """One thread that runs submitted tasks (file writes, event deliveries) in order.

    ``submit`` never blocks on the task; ``flush`` waits until everything submitted so far
    has run. The thread starts with the first task and ends with :meth:`close`. The first task that raises stops the queue: later tasks are dropped (an event
    must not announce a checkpoint that was not written) and the error is raised on the
    caller's thread by the next ``submit``/``flush``/``check``.
    """

    def __init__(self, name: str = "studio-writer") -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._name = name
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            try:
                if task is None:
                    return
                if self._error is None:
                    task()
            except BaseException as exc:  # reported on the training thread
                self._error = exc
            finally:
                self._queue.task_done()

    def check(self) -> None:
        """Raise the error of a failed task (once)."""
        if self._error is not None:
            error, self._error = self._error, _Reported()
            if not isinstance(error, _Reported):
                raise error

    def submit(self, task: Callable[[], None]) -> None:
        self.check()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._queue.put(task)

    def flush(self) -> None:
        self._queue.join()
        self.check()

    def close(self, *, raise_error: bool = True) -> None:
        """Run what is queued, stop the thread; ``raise_error=False`` while failing already."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._queue.join()
            self._thread.join()
        if raise_error:
            self.check()


class _Reported(Exception):
    """Marks a writer error already raised: the queue stays stopped, nothing is raised twice."""


def _cpu_copy(value: Any) -> Any:
    """A copy of a checkpoint dict whose tensors can no longer change under training."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_cpu_copy(v) for v in value)
    return value


def write_checkpoint_file(checkpoint: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temp file, fsync, rename over ``path``, fsync the folder.

    A crash at any point leaves either the previous file or the new one, never a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    with open(tmp, "wb") as fh:  # straight to the file: no in-memory copy of 128 MB first
        torch.save(checkpoint, fh)
        fh.flush()
        os.fsync(fh.fileno())  # durable before it replaces the previous good file
    os.replace(tmp, path)
    fsync_dir(path.parent)


class DeferredCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO with the file written on a :class:`BackgroundWriter`.

    ``save_checkpoint`` copies the state to the CPU at once (the moment Lightning asks) and
    queues :func:`write_checkpoint_file`; without a writer it writes inline. Loading is
    Lightning's (``torch.load``; resumes pass ``weights_only=True``).
    """

    def __init__(self, writer: BackgroundWriter | None = None) -> None:
        super().__init__()
        self.writer = writer

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("storage_options are not supported")
        task = functools.partial(write_checkpoint_file, _cpu_copy(checkpoint), Path(path))
        if self.writer is None:
            task()
        else:
            self.writer.submit(task)


def _epoch_number(trainer: pl.Trainer) -> int:
    """1-based number of the epoch in progress."""
    return int(trainer.current_epoch) + 1


class EventsCallback(Callback):
    """Progress events for the job log and the per-epoch ``metrics.json`` rows."""

    def __init__(
        self,
        on_event: EventFn,
        metrics_path: Path,
        info: dict[str, Any],
        writer: BackgroundWriter | None = None,
    ) -> None:
        self._deliver = on_event
        self.writer = writer  # events and metrics.json go out on it, in order
        self.metrics_path = metrics_path
        self.info = info
        self.rows: list[dict[str, Any]] = []
        self._start = 0.0
        self._epoch_start = 0.0
        self._last_emit = float("-inf")
        self._images_since_emit = 0
        self._steps_run = 0
        self.start_epoch = 0
        self._restored: list[dict[str, Any]] | None = None

    def _later(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.writer is None:
            fn(*args)
        else:
            self.writer.submit(functools.partial(fn, *args))

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """Deliver an event (on the writer when there is one, after what is queued)."""
        self._later(self._deliver, kind, data)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = list(state_dict.get("rows", []))
        # The checkpoint is the record: a worker killed after writing last.ckpt but before
        # metrics.json left the file behind, and a resume of a run that had already
        # finished trains nothing (no callback runs after this), so write its rows now.
        write_json_atomic(self.metrics_path, self._restored)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start_epoch = int(trainer.current_epoch)
        rows: list[dict[str, Any]] = []
        if self._restored is not None:  # the rows of the checkpoint we resume
            existing = self._restored
        elif self.start_epoch > 0 and self.metrics_path.is_file():  # older checkpoints
            existing = read_json(self.metrics_path)
        else:
            existing = []
        # rows of epochs after the resumed one are re-done now: drop them
        rows = [r for r in existing if int(r.get("epoch", 0)) <= self.start_epoch]
        self.rows = rows
        self._later(write_json_atomic, self.metrics_path, list(self.rows))
        self._start = time.monotonic()
        self.on_event(
            "started",
            {
                "resumed": self.start_epoch > 0,
                **self.info,
                "epochs": int(trainer.max_epochs or 0),
                "start_epoch": self.start_epoch + 1,
                "batches_per_epoch": int(trainer.num_training_batches),
                "device": str(pl_module.device),
                "precision": str(trainer.precision),
            },
        )

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.monotonic()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._steps_run += 1
        self._images_since_emit += len(batch[0])
        if self.writer is not None:
            self.writer.check()  # a failed checkpoint write fails training now
        now = time.monotonic()
        if now - self._last_emit < BATCH_EVENT_INTERVAL_S:
            return
        batches = int(trainer.num_training_batches)
        epochs = int(trainer.max_epochs or 1)
        remaining = (epochs - _epoch_number(trainer)) * batches + (batches - batch_idx - 1)
        elapsed = now - self._start  # includes past validations, so the ETA does too
        dt = now - self._last_emit if self._last_emit > float("-inf") else now - self._epoch_start
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        self.on_event(
            "batch",
            {
                "epoch": _epoch_number(trainer),
                "epochs": epochs,
                "batch": batch_idx + 1,
                "batches": batches,
                "loss": float(loss) if loss is not None else None,
                "images_per_s": round(self._images_since_emit / max(dt, 1e-6), 1),
                "eta_s": round(remaining * elapsed / self._steps_run, 1),
            },
        )
        self._last_emit = now
        self._images_since_emit = 0

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        collect = getattr(pl_module, "collect_epoch_metrics", None)
        metrics: dict[str, float] = collect() if collect else {}
        row: dict[str, Any] = {"epoch": _epoch_number(trainer)}
        row["train_loss"] = metrics.get("train_loss")
        row["val_loss"] = metrics.get("val_loss")
        row.update({k: v for k, v in metrics.items() if k not in row})
        row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        row["time_s"] = round(time.monotonic() - self._epoch_start, 3)
        self.rows.append(row)  # published by StudioCheckpoint once last.ckpt holds it

    def publish_epoch(self, trainer: pl.Trainer) -> None:
        """``metrics.json`` and the ``epoch_end`` event for the epoch just checkpointed."""
        self._later(write_json_atomic, self.metrics_path, list(self.rows))
        row = self.rows[-1]
        self.on_event(
            "epoch_end", {"epoch": row["epoch"], "epochs": trainer.max_epochs, "metrics": row}
        )


class StudioCheckpoint(Checkpoint):
    """``best.ckpt`` on the monitored metric and ``last.ckpt`` every epoch, atomically."""

    def __init__(
        self,
        dirpath: Path,
        monitor: str,
        mode: Literal["max", "min"],
        on_event: EventFn,
        after_epoch: Callable[[pl.Trainer], None] | None = None,
    ) -> None:
        # on_event runs after the queued file writes when it is EventsCallback.on_event
        self.after_epoch = after_epoch  # announces the epoch once its checkpoints exist
        self.dirpath = Path(dirpath)
        self.monitor = monitor
        self.mode = mode
        self.on_event = on_event
        self.best_score: float | None = None
        self.best_epoch: int | None = None

    @property
    def state_key(self) -> str:
        return "StudioCheckpoint"

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict.get("best_score")
        self.best_epoch = state_dict.get("best_epoch")

    def _improved(self, score: float) -> bool:
        # Ties go to the later epoch: small validation sets tie often, and the later model
        # has trained longer at a lower learning rate.
        if self.best_score is None:
            return True
        return score >= self.best_score if self.mode == "max" else score <= self.best_score

    def _write(
        self, trainer: pl.Trainer, name: str, info: dict[str, Any], *, weights_only: bool = False
    ) -> Path:
        """Save now (atomically, through the trainer's checkpoint IO: maybe on the writer)."""
        final = self.dirpath / name
        module = trainer.lightning_module
        module.checkpoint_info = info  # type: ignore[assignment]
        trainer.save_checkpoint(final, weights_only=weights_only)
        return final

    def save_last(self, trainer: pl.Trainer, *, epochs_done: int, complete: bool) -> Path:
        """Write ``last.ckpt``; ``complete`` = saved at an epoch end (not mid-epoch)."""
        info = {"epochs_done": epochs_done, "epoch_complete": complete}
        path = self._write(trainer, "last.ckpt", info)
        self.on_event(
            "checkpoint_saved",
            {"kind": "last", "path": f"checkpoints/{path.name}", "epoch": epochs_done},
        )
        return path

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = _epoch_number(trainer)
        metrics = getattr(pl_module, "epoch_metrics", {})
        raw = metrics.get(self.monitor)
        score = None if raw is None else float(raw)
        improved = score is not None and self._improved(score)
        if improved:  # before saving last, so last.ckpt carries the new best in its state
            self.best_score, self.best_epoch = score, epoch
        self.save_last(trainer, epochs_done=epoch, complete=True)
        if improved:
            # Nothing resumes from best.ckpt: without optimizer state it is a third the size
            info = {"epochs_done": epoch, "epoch_complete": True}
            self._write(trainer, "best.ckpt", info, weights_only=True)
            self.on_event(
                "checkpoint_saved",
                {
                    "kind": "best",
                    "path": "checkpoints/best.ckpt",
                    "epoch": epoch,
                    "metric": self.monitor,
                    "value": self.best_score,
                },
            )
        if self.after_epoch is not None:
            self.after_epoch(trainer)


class StopCallback(Callback):
    """Ends training cleanly between batches when ``should_stop()`` says so."""

    def __init__(
        self,
        should_stop: Callable[[], bool],
        checkpoint: StudioCheckpoint,
        writer: BackgroundWriter | None = None,
    ) -> None:
        self.should_stop = should_stop
        self.checkpoint = checkpoint
        self.writer = writer
        self.stopped = False

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.should_stop():
            self.stopped = True
            self.checkpoint.save_last(
                trainer, epochs_done=int(trainer.current_epoch), complete=False
            )
            if self.writer is not None:
                self.writer.flush()  # last.ckpt and its event are out before fit ends
            raise TrainingStopped()


def accelerator() -> str:
    """``"cuda"`` when a CUDA GPU is usable, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_trainer(
    config: TrainingConfig,
    run_dir: Path,
    callbacks: list[Callback],
    writer: BackgroundWriter | None = None,
) -> pl.Trainer:
    """A quiet single-device Trainer for ``config``; ``ValidationFailed`` if the precision cannot run.

    Checkpoint files are written by :class:`DeferredCheckpointIO` on ``writer`` (inline
    without one).
    """
    device = accelerator()
    problem = precision_problem(config.precision, cuda=device == "cuda")
    if problem:
        raise ValidationFailed(problem, details={"precision": [problem]})
    return pl.Trainer(
        accelerator=device,
        devices=1,
        precision=config.precision,  # type: ignore[arg-type]
        max_epochs=config.epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=True,
        num_sanity_val_steps=0,  # a config error shows in the first epoch anyway
        default_root_dir=str(run_dir),
        benchmark=True if device == "cuda" else None,  # fixed input sizes: let cuDNN pick
        callbacks=callbacks,
        plugins=[DeferredCheckpointIO(writer)],
    )


def early_stopping(monitor: str, mode: str, patience: int) -> EarlyStopping:
    return EarlyStopping(monitor=monitor, mode=mode, patience=patience, check_finite=True)


_NOISY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric")


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's info banners and advisory warnings for the duration of a run."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
            warnings.filterwarnings("ignore", message=".*ended before the epoch ended.*")
            warnings.filterwarnings("ignore", message=".*checkpoint_path.*does not exist.*")
            # our module converts images after transfer, on purpose (see module.py)
            warnings.filterwarnings("ignore", message=".*overridden `on_after_batch_transfer`.*")
            # raised inside Lightning itself with newer torch; nothing for users to act on
            warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
