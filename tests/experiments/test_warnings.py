"""The chance-level warning: the rule (``run_warnings``), the tasks' chance levels, and the
``warnings`` of the experiment API payload."""

from __future__ import annotations

from typing import Any

import pytest

from apps.datasets.selectors import class_counts
from apps.experiments import services, store
from apps.experiments.run_warnings import chance_warning, run_warnings
from studio.ml.tasks.registry import load_task
from studio.storage.jsonio import write_json_atomic
from studio.storage.paths import Workspace
from tests.experiments.helpers import FAST_CONFIG

pytestmark = pytest.mark.django_db
CONFIG = {"lr": 0.001, "optimizer": "adamw", "pretrained": False, "model": "mobilenet_v3_small"}


def rows(key: str, *values: float) -> list[dict[str, Any]]:
    return [{"epoch": i + 1, key: v, "lr": 0.001, "time_s": 1.0} for i, v in enumerate(values)]


def test_tasks_name_their_chance_level() -> None:
    assert load_task("classification").chance_level([8] * 10) == ("accuracy", 0.1)
    # micro accuracy: always answering the big class scores its share
    assert load_task("classification").chance_level([90, 10]) == ("accuracy", 0.9)
    assert load_task("classification").chance_level([5]) is None
    assert load_task("anomaly_detection").chance_level([40, 10]) == ("auroc", 0.5)
    assert load_task("regression").chance_level([]) == ("r2", 0.0)


def test_the_rule_waits_for_two_epochs_and_looks_at_the_best_value() -> None:
    chance = ("accuracy", 0.1)
    assert chance_warning(rows("val_accuracy", 0.1), chance, CONFIG) is None  # one epoch
    found = chance_warning(rows("val_accuracy", 0.1, 0.1, 0.1), chance, CONFIG)
    assert found is not None and found["code"] == "chance_level"
    assert found["metric"] == "val_accuracy" and found["epochs"] == 3
    assert "0.100" in found["message"] and found["causes"]
    assert chance_warning(rows("val_accuracy", 0.1, 0.12), chance, CONFIG)  # within the margin
    assert chance_warning(rows("val_accuracy", 0.1, 0.13), chance, CONFIG) is None
    assert chance_warning(rows("val_accuracy", 0.6, 0.1), chance, CONFIG) is None  # it learned
    assert chance_warning(rows("val_accuracy", 0.05, 0.04), chance, CONFIG)  # below chance
    assert chance_warning(rows("val_accuracy", 0.1, 0.1), None, CONFIG) is None
    assert chance_warning(rows("val_auroc", 0.5, 0.54), ("auroc", 0.5), CONFIG)
    assert chance_warning(rows("val_auroc", 0.5, 0.7), ("auroc", 0.5), CONFIG) is None
    assert chance_warning(rows("val_r2", -0.3, 0.0), ("r2", 0.0), CONFIG)
    assert chance_warning(rows("val_r2", -0.3, 0.4), ("r2", 0.0), CONFIG) is None


def test_the_causes_point_at_this_runs_settings_first() -> None:
    frozen = {**CONFIG, "freeze_backbone": True, "lr": 0.5}
    found = run_warnings(rows("val_accuracy", 0.1, 0.1), ("accuracy", 0.1), frozen)
    causes = found[0]["causes"]
    assert "frozen without pretrained weights" in causes[0]
    assert "learning rate 0.5 is high" in causes[1]
    assert any("MobileNetV3" in c for c in causes)


def test_the_experiment_payload_carries_the_warning(
    api: Any, digits: tuple[str, str], workspace: Workspace
) -> None:
    pid, sid = digits
    exp = services.experiment_create(pid, sid, FAST_CONFIG, "Stuck")
    url = f"/api/experiments/{pid}/{exp.id}"
    assert api.get(url).json()["warnings"] == []
    folder = store.experiment_dir(workspace, pid, exp.id)
    write_json_atomic(folder / "metrics.json", rows("val_accuracy", 0.1, 0.1))

    def two_epochs(e: Any) -> None:
        e.epochs_done = 2

    store.mutate(workspace, pid, exp.id, two_epochs)
    warnings = api.get(url).json()["warnings"]
    assert [w["code"] for w in warnings] == ["chance_level"]
    # the share of the most common digit (80 images, 10 classes, not exactly balanced)
    counts = list(class_counts(pid).values())
    assert warnings[0]["chance"] == pytest.approx(max(counts) / sum(counts))
    assert 0.1 <= warnings[0]["chance"] < 0.2
    write_json_atomic(folder / "metrics.json", rows("val_accuracy", 0.1, 0.75))
    assert api.get(url).json()["warnings"] == []
