"""End-to-end training on scikit-learn digits with a small, fast model (CPU, seeded)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from studio.errors import StudioError
from studio.ml.checkpoints import load_for_inference, model_state_dict, read_checkpoint
from studio.ml.data import Sample
from studio.ml.hparams import TrainingConfig
from studio.ml.tasks.registry import load_task
from studio.ml.train import TrainingResult, run_training
from studio.storage.dataset_schemas import DatasetFile
from studio.storage.experiment_schemas import MetricRow
from tests.ml.conftest import EventLog, never, stop_after
from tests.ml.digits import checkpoint_accuracy

Digits = tuple[list[Sample], DatasetFile]


def small_config(**overrides: Any) -> TrainingConfig:
    values = {"model": "mobilenet_v3_small", "image_size": 32, "batch_size": 16, "epochs": 2}
    return load_task("classification").make_config({**values, **overrides})


def train(run_dir: Path, digits: Digits, cache: Path, **kw: Any) -> tuple[TrainingResult, EventLog]:
    samples, dataset = digits
    log = EventLog()
    config = kw.pop("config", None) or small_config()
    result = run_training(
        run_dir,
        samples,
        dataset,
        config,
        "classification",
        kw.pop("on_event", log),
        kw.pop("should_stop", never),
        cache_dir=cache,
        **kw,
    )
    return result, log


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def completed(
    tmp_path_factory: pytest.TempPathFactory, digits_tiny: Digits, cache: Path
) -> tuple[Path, TrainingResult, EventLog]:
    run_dir = tmp_path_factory.mktemp("run")
    result, log = train(run_dir, digits_tiny, cache)
    return run_dir, result, log


def test_run_completes_with_metrics_and_checkpoints(
    completed: tuple[Path, TrainingResult, EventLog],
) -> None:
    run_dir, result, _ = completed
    assert result.status == "completed" and result.epochs_done == 2
    assert result.best_checkpoint == "checkpoints/best.ckpt"
    assert result.last_checkpoint == "checkpoints/last.ckpt"
    assert (run_dir / result.best_checkpoint).is_file() and (
        run_dir / result.last_checkpoint
    ).is_file()
    assert result.best_metric and result.best_metric["name"] == "val_accuracy"
    assert {
        "train_loss",
        "val_loss",
        "val_accuracy",
        "val_precision",
        "val_recall",
        "val_f1",
    } <= set(result.final_metrics)

    rows = json.loads((run_dir / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2]
    for row in rows:
        MetricRow.model_validate(row)
        assert row["train_loss"] > 0 and row["val_loss"] > 0 and row["time_s"] > 0
        assert 0 <= row["val_accuracy"] <= 1
    assert rows[0]["lr"] > rows[1]["lr"]  # cosine decay after warm-up
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


def test_events_are_emitted_in_order(completed: tuple[Path, TrainingResult, EventLog]) -> None:
    _, _, log = completed
    sequence = " ".join(log.types())
    # an epoch is announced only once last.ckpt (and best.ckpt) hold it
    epoch = r"(batch )+checkpoint_saved( checkpoint_saved)? epoch_end"
    assert re.fullmatch(rf"(preparing )*started {epoch} {epoch}", sequence), sequence
    started = log.of("started")[0]
    assert started["train"] == 96 and started["val"] == 12 and started["epochs"] == 2
    for batch in log.of("batch"):
        assert (
            batch["images_per_s"] > 0
            and batch["eta_s"] >= 0
            and 1 <= batch["batch"] <= batch["batches"]
        )
    ends = log.of("epoch_end")
    assert [e["epoch"] for e in ends] == [1, 2]
    assert "val_accuracy" in ends[0]["metrics"]
    kinds = [(e["kind"], e["epoch"]) for e in log.of("checkpoint_saved")]
    assert ("last", 1) in kinds and ("last", 2) in kinds and ("best", 1) in kinds


def test_batch_events_are_throttled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_tiny: Digits
) -> None:
    from studio.ml import trainer as trainer_mod

    monkeypatch.setattr(trainer_mod, "BATCH_EVENT_INTERVAL_S", 3600.0)
    result, log = train(
        tmp_path / "run", digits_tiny, tmp_path / "cache", config=small_config(epochs=1)
    )
    assert result.status == "completed"
    assert log.types().count("batch") == 1  # the first batch only, then throttled


def test_checkpoints_load_weights_only_and_for_inference(
    completed: tuple[Path, TrainingResult, EventLog], digits_tiny: Digits
) -> None:
    run_dir, result, _ = completed
    for name in ("best.ckpt", "last.ckpt"):
        raw = torch.load(run_dir / "checkpoints" / name, map_location="cpu", weights_only=True)
        meta = raw["studio"]
        assert meta["task"] == "classification" and meta["model"] == "mobilenet_v3_small"
        assert meta["class_names"] == [str(d) for d in range(10)]
        assert meta["image_size"] == 32 and meta["normalization"]["mean"]
        assert json.loads(json.dumps(meta)) == meta  # plain JSON values only
        # last.ckpt has what a resume needs; nothing resumes from best.ckpt (a third the size)
        resumable = name == "last.ckpt"
        assert ("optimizer_states" in raw and "lr_schedulers" in raw) is resumable
        assert ("callbacks" in raw) is resumable
    best, last = (run_dir / "checkpoints" / n for n in ("best.ckpt", "last.ckpt"))
    assert best.stat().st_size < last.stat().st_size / 2

    model, meta = load_for_inference(run_dir / "checkpoints" / "best.ckpt")
    assert not model.training
    assert meta.config["model"] == "mobilenet_v3_small" and meta.epochs_done >= 1
    # the best checkpoint reproduces its logged validation accuracy
    samples, dataset = digits_tiny
    accuracy = checkpoint_accuracy(
        run_dir / "checkpoints" / "best.ckpt", samples, dataset, "val", run_dir / "eval-cache"
    )
    assert accuracy == pytest.approx(meta.metrics["val_accuracy"], abs=1e-6)
    assert accuracy == pytest.approx(result.best_metric["value"], abs=1e-6)  # type: ignore[index]


def test_stop_saves_last_and_resume_continues_without_duplicate_rows(
    tmp_path: Path, digits_tiny: Digits
) -> None:
    run_dir = tmp_path / "run"
    cache = tmp_path / "cache"
    stopped, log = train(run_dir, digits_tiny, cache, should_stop=stop_after(3))
    assert stopped.status == "stopped" and stopped.epochs_done == 0
    assert stopped.last_checkpoint == "checkpoints/last.ckpt" and stopped.best_checkpoint is None
    assert log.types().count("batch") <= 3 and log.of("checkpoint_saved")[-1]["kind"] == "last"
    assert json.loads((run_dir / "metrics.json").read_text()) == []
    ckpt = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert ckpt["studio"]["epoch_complete"] is False

    resumed, log2 = train(run_dir, digits_tiny, cache, resume=True)
    assert resumed.status == "completed" and resumed.epochs_done == 2
    assert log2.of("started")[0]["resumed"] is True and log2.of("started")[0]["start_epoch"] == 1
    rows = json.loads((run_dir / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2]

    # resuming a finished run with more epochs re-does nothing and appends epoch 3 only
    more, log3 = train(run_dir, digits_tiny, cache, resume=True, config=small_config(epochs=3))
    assert more.status == "completed" and more.epochs_done == 3
    assert log3.of("started")[0]["start_epoch"] == 3 and log3.of("started")[0]["resumed"]
    rows = json.loads((run_dir / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[2]["lr"] >= 0

    # resuming a run that is already finished trains nothing and reports it as it is
    again, log4 = train(run_dir, digits_tiny, cache, resume=True, config=small_config(epochs=3))
    assert again.status == "completed" and again.epochs_done == 3
    assert again.final_metrics == more.final_metrics and "batch" not in log4.types()
    assert again.best_metric == more.best_metric


def test_resume_drops_rows_of_redone_epochs(tmp_path: Path, digits_tiny: Digits) -> None:
    run_dir = tmp_path / "run"
    cache = tmp_path / "cache"
    train(run_dir, digits_tiny, cache, config=small_config(epochs=1))
    # metrics.json ran ahead of the checkpoint (crash between the two writes)
    rows = json.loads((run_dir / "metrics.json").read_text())
    ghost = {**rows[0], "epoch": 2, "val_accuracy": -1.0}
    (run_dir / "metrics.json").write_text(json.dumps([*rows, ghost]))
    result, _ = train(run_dir, digits_tiny, cache, resume=True)
    final = json.loads((run_dir / "metrics.json").read_text())
    assert [r["epoch"] for r in final] == [1, 2] and final[1]["val_accuracy"] >= 0
    assert result.epochs_done == 2


def test_resuming_a_finished_run_restores_rows_the_checkpoint_holds(
    tmp_path: Path, digits_tiny: Digits
) -> None:
    """A worker killed after last.ckpt but before metrics.json (both on the background
    writer): the resume trains nothing, yet the metrics file gets the checkpoint's rows."""
    run_dir = tmp_path / "run"
    cache = tmp_path / "cache"
    done, _ = train(run_dir, digits_tiny, cache)
    rows = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps(rows[:-1]))  # the last write never ran
    again, log = train(run_dir, digits_tiny, cache, resume=True)
    assert again.status == "completed" and "batch" not in log.types()
    final = json.loads((run_dir / "metrics.json").read_text())
    assert [r["epoch"] for r in final] == [r["epoch"] for r in rows] == [1, 2]
    assert again.final_metrics == done.final_metrics


def test_early_stopping_ends_a_run_that_stops_improving(
    tmp_path: Path, digits_tiny: Digits
) -> None:
    # a frozen backbone and a negligible learning rate: validation accuracy cannot move
    config = small_config(epochs=5, early_stopping_patience=1, lr=1e-12, freeze_backbone=True)
    result, log = train(tmp_path / "run", digits_tiny, tmp_path / "cache", config=config)
    assert result.status == "completed" and result.early_stopped
    assert result.epochs_done == 2 and [e["epoch"] for e in log.of("epoch_end")] == [1, 2]


def test_resume_without_checkpoint_is_refused(tmp_path: Path, digits_tiny: Digits) -> None:
    with pytest.raises(StudioError, match="no last checkpoint"):
        train(tmp_path / "run", digits_tiny, tmp_path / "cache", resume=True)


def test_seeded_runs_are_deterministic(tmp_path: Path, digits_tiny: Digits) -> None:
    states = []
    for name in ("a", "b"):
        train(tmp_path / name, digits_tiny, tmp_path / "cache", should_stop=stop_after(2))
        ckpt = read_checkpoint(tmp_path / name / "checkpoints" / "last.ckpt")
        states.append(model_state_dict(ckpt))
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key


def test_failure_is_readable_and_keeps_last_good_checkpoint(
    tmp_path: Path, digits_tiny: Digits
) -> None:
    run_dir = tmp_path / "run"

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "epoch_end" and data["epoch"] == 2:
            raise RuntimeError("disk quota exceeded")

    with pytest.raises(StudioError) as err:
        train(run_dir, digits_tiny, tmp_path / "cache", on_event=on_event)
    assert err.value.message == "Training failed: disk quota exceeded"
    ckpt = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    # epoch 2 was checkpointed before it was announced; its metrics row travels with it
    assert ckpt["studio"]["epochs_done"] == 2
    rows = next(v["rows"] for k, v in ckpt["callbacks"].items() if "EventsCallback" in k)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert not list((run_dir / "checkpoints").glob(".*"))


def test_failed_checkpoint_write_fails_training_and_announces_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_tiny: Digits
) -> None:
    """Checkpoints are written on a background thread: its failure still ends the run."""
    from studio.ml import trainer as trainer_mod

    def full_disk(checkpoint: dict[str, Any], path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer_mod, "write_checkpoint_file", full_disk)
    log = EventLog()
    with pytest.raises(StudioError) as err:
        train(tmp_path / "run", digits_tiny, tmp_path / "cache", config=small_config(epochs=3),
              on_event=log)  # fmt: skip
    assert err.value.code == "training_failed" and "No space left" in err.value.message
    # the epoch was never announced: no checkpoint_saved, no epoch_end
    assert "started" in log.types() and "epoch_end" not in log.types()
    assert "checkpoint_saved" not in log.types()


def test_events_after_a_failed_write_are_dropped(tmp_path: Path, digits_tiny: Digits) -> None:
    from studio.ml.trainer import BackgroundWriter

    writer = BackgroundWriter()
    ran: list[str] = []

    def fail() -> None:
        raise OSError("disk gone")

    writer.submit(lambda: ran.append("first"))
    writer.submit(fail)
    writer.submit(lambda: ran.append("after"))  # e.g. checkpoint_saved of the failed file
    with pytest.raises(OSError, match="disk gone"):
        writer.flush()
    writer.close()  # raised once, not again
    assert ran == ["first"]


def test_out_of_memory_becomes_a_hint(tmp_path: Path, digits_tiny: Digits) -> None:
    def should_stop() -> bool:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 TB")

    with pytest.raises(StudioError) as err:
        train(tmp_path / "run", digits_tiny, tmp_path / "cache", should_stop=should_stop)
    assert err.value.code == "out_of_memory" and "batch size" in err.value.message


def test_class_weights_and_label_smoothing_reach_the_loss(digits_tiny: Digits) -> None:
    samples, dataset = digits_tiny
    task = load_task("classification")
    config = task.make_config({"class_weights": "balanced", "label_smoothing": 0.1})
    train_records = [s.record for s in samples if s.subset == "train"]
    state = task.fit_state(train_records[:50], dataset, config)
    task.load_state(state)
    counts = state["class_counts"]
    weights = state["class_weights"]
    assert sum(counts) == 50
    rare = min(range(10), key=lambda i: counts[i] or 10**9)
    common = max(range(10), key=lambda i: counts[i])
    assert weights[rare] > weights[common]
    logits = torch.zeros(2, 10)
    loss = task.compute_loss(logits, torch.tensor([0, 1]))
    assert torch.isfinite(loss)
    assert json.loads(json.dumps(state)) == state
