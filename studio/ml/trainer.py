"""Lightning ``Trainer`` factory and Studio's callbacks (events, checkpoints, stop).

Callbacks, in the order Lightning calls them at the end of an epoch:

1. :class:`EventsCallback` — ``started`` (training start), ``batch`` (throttled to at most
   2 per second, with images/s and ETA); at an epoch end it adds the epoch's metrics row to
   its rows, which are part of every checkpoint (its ``state_dict``).
2. :class:`StopCallback` — asks ``should_stop()`` after every training batch; when true it
   lets the batch finish, saves ``last.ckpt`` and raises :class:`TrainingStopped`, which
   :func:`studio.ml.train.run_training` turns into status ``stopped``.
3. Lightning's ``EarlyStopping`` when ``early_stopping_patience > 0``.
4. :class:`StudioCheckpoint` — ``last.ckpt`` every epoch and ``best.ckpt`` when the monitored
   metric improves, in ``<run_dir>/checkpoints/``, each written to a temp file, fsynced and
   renamed, so a crash leaves the previous good checkpoint; emits ``checkpoint_saved``.
   Then, and only then, it has :meth:`EventsCallback.publish_epoch` rewrite
   ``<run_dir>/metrics.json`` and emit ``epoch_end`` (epoch number + the metrics row).
   (Lightning runs ``Checkpoint`` callbacks after all others, so this is the last hook.)

Why this order: whoever reads "epoch N done" (the event, ``metrics.json``) can rely on
``last.ckpt`` holding epoch N. A resume takes the rows from the checkpoint it resumes
(rows of later epochs are re-done, never duplicated), so a worker killed between the
checkpoint and ``metrics.json`` loses no row either.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping

from studio.errors import ValidationFailed
from studio.ml.hparams import TrainingConfig, precision_problem
from studio.storage.jsonio import fsync_dir, read_json, write_json_atomic

EventFn = Callable[[str, dict[str, Any]], None]
BATCH_EVENT_INTERVAL_S = 0.5  # ≤ 2 batch events per second: enough for a progress bar


class TrainingStopped(Exception):
    """Raised inside ``fit`` after a requested stop has saved ``last.ckpt``."""


def _epoch_number(trainer: pl.Trainer) -> int:
    """1-based number of the epoch in progress."""
    return int(trainer.current_epoch) + 1


class EventsCallback(Callback):
    """Progress events for the job log and the per-epoch ``metrics.json`` rows."""

    def __init__(self, on_event: EventFn, metrics_path: Path, info: dict[str, Any]) -> None:
        self.on_event = on_event
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

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = list(state_dict.get("rows", []))

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
        write_json_atomic(self.metrics_path, self.rows)
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
        write_json_atomic(self.metrics_path, self.rows)
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

    def _write(self, trainer: pl.Trainer, name: str, info: dict[str, Any]) -> Path:
        self.dirpath.mkdir(parents=True, exist_ok=True)
        final = self.dirpath / name
        tmp = self.dirpath / f".{name}.tmp"
        module = trainer.lightning_module
        module.checkpoint_info = info  # type: ignore[assignment]
        trainer.save_checkpoint(tmp)
        with open(tmp, "rb") as fh:  # durable before it replaces the previous good file
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        fsync_dir(self.dirpath)
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
        last = self.save_last(trainer, epochs_done=epoch, complete=True)
        if improved:
            best = self.dirpath / "best.ckpt"
            tmp = self.dirpath / ".best.ckpt.tmp"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            try:
                os.link(last, tmp)  # same bytes: a hard link costs nothing
            except OSError:
                import shutil

                shutil.copyfile(last, tmp)
            os.replace(tmp, best)
            fsync_dir(self.dirpath)
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

    def __init__(self, should_stop: Callable[[], bool], checkpoint: StudioCheckpoint) -> None:
        self.should_stop = should_stop
        self.checkpoint = checkpoint
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
            raise TrainingStopped()


def accelerator() -> str:
    """``"cuda"`` when a CUDA GPU is usable, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_trainer(config: TrainingConfig, run_dir: Path, callbacks: list[Callback]) -> pl.Trainer:
    """A quiet single-device Trainer for ``config``; ``ValidationFailed`` if the precision cannot run."""
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
