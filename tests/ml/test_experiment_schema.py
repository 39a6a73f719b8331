"""experiment.json and metrics.json schemas."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from studio.ml.tasks.registry import load_task
from studio.schema_index import ALL_SCHEMAS
from studio.storage.experiment_schemas import (
    ExperimentFile,
    ExperimentStatus,
    MetricRow,
    MetricValue,
)


def test_registered() -> None:
    assert ALL_SCHEMAS["experiment"] is ExperimentFile
    assert ALL_SCHEMAS["metric_row"] is MetricRow


def test_experiment_round_trip_with_a_training_config() -> None:
    config = load_task("classification").make_config({"epochs": 3}).model_dump(mode="json")
    exp = ExperimentFile(
        id="exp1",
        project_id="p1",
        name="First try",
        task="classification",
        split_id="s1",
        config=config,
        status=ExperimentStatus.completed,
        epochs_done=3,
        best_checkpoint="checkpoints/best.ckpt",
        last_checkpoint="checkpoints/last.ckpt",
        best_metric=MetricValue(name="val_accuracy", value=0.98, epoch=2),
        final_metrics={"val_accuracy": 0.97, "train_loss": 0.1},
    )
    again = ExperimentFile.model_validate_json(exp.model_dump_json())
    assert again == exp and again.config["epochs"] == 3
    assert {s.value for s in ExperimentStatus} == {
        "draft", "queued", "running", "completed", "stopped", "failed", "interrupted",
    }  # fmt: skip
    assert ExperimentStatus.stopped.resumable and not ExperimentStatus.completed.resumable


@pytest.mark.parametrize(
    "change",
    [
        {"status": "paused"},
        {"name": ""},
        {"epochs_done": -1},
        {"surprise": 1},
        {"schema_version": 2},
    ],
)
def test_experiment_rejects_bad_values(change: dict[str, object]) -> None:
    base = {"id": "e", "project_id": "p", "name": "n", "task": "classification"}
    with pytest.raises(ValidationError):
        ExperimentFile.model_validate({**base, **change})


def test_metric_row_allows_task_metrics_as_numbers_only() -> None:
    row = MetricRow.model_validate(
        {"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "val_f1": 0.9, "lr": 0.001, "time_s": 3.2}
    )
    assert row.model_dump()["val_f1"] == 0.9
    with pytest.raises(ValidationError):
        MetricRow.model_validate({"epoch": 1, "lr": 0.1, "time_s": 1, "val_f1": "high"})
    with pytest.raises(ValidationError):
        MetricRow.model_validate({"epoch": 0, "lr": 0.1, "time_s": 1})
