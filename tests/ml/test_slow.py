"""Accuracy check with Studio's own defaults: ResNet-18 from scratch on digits at 32 px."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.ml.data import Sample
from studio.ml.tasks.registry import load_task
from studio.ml.train import run_training
from studio.storage.dataset_schemas import DatasetFile
from tests.ml.conftest import EventLog, never
from tests.ml.digits import checkpoint_accuracy


@pytest.mark.slow
@pytest.mark.accuracy
@pytest.mark.timeout(1800)  # ~5 min on 2 idle cores; far longer when the CPUs are shared
def test_resnet18_from_scratch_reaches_97_percent_on_digits(
    tmp_path: Path, digits_full: tuple[list[Sample], DatasetFile]
) -> None:
    samples, dataset = digits_full
    task = load_task("classification")
    # only what the data dictates: the image size; the epoch budget of the check
    config = task.make_config({"model": "resnet18", "image_size": 32, "epochs": 10})
    result = run_training(
        tmp_path / "run", samples, dataset, config, "classification", EventLog(), never,
        cache_dir=tmp_path / "cache",
    )  # fmt: skip
    assert result.status == "completed" and result.epochs_done == 10
    assert result.best_checkpoint is not None
    accuracy = checkpoint_accuracy(
        tmp_path / "run" / result.best_checkpoint, samples, dataset, "test", tmp_path / "cache"
    )
    assert accuracy >= 0.97, f"test accuracy {accuracy:.4f}"
