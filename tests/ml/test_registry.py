"""Every available task implements the Task contract; ``describe()`` is plain JSON."""

from __future__ import annotations

import inspect
import json

import pytest

from studio.errors import ValidationFailed
from studio.ml.tasks.base import Task
from studio.ml.tasks.registry import TASKS, load_task

AVAILABLE = [info.type.value for info in TASKS.values() if info.available]


def test_classification_is_available() -> None:
    assert "classification" in AVAILABLE


@pytest.mark.parametrize("name", AVAILABLE)
def test_task_implements_contract(name: str) -> None:
    task = load_task(name)
    assert isinstance(task, Task)
    assert task.name == name
    assert not inspect.isabstract(type(task))
    assert task.monitor_mode in ("max", "min")
    assert task.default_model in {spec.key for spec in task.models()}
    metrics = task.make_metrics(3)
    assert task.monitor in metrics
    config = task.make_config({})
    assert config.model == task.default_model


@pytest.mark.parametrize("name", AVAILABLE)
def test_describe_is_plain_json(name: str) -> None:
    info = load_task(name).describe()
    assert json.loads(json.dumps(info)) == info
    assert info["models"] and all(m["description"] and m["parameters"] > 0 for m in info["models"])
    names = {f["name"] for f in info["hyperparameters"]}
    assert {"lr", "epochs", "batch_size", "optimizer", "precision"} <= names
    assert all(f["help"] for f in info["hyperparameters"] + info["augmentations"])
    model_field = next(f for f in info["hyperparameters"] if f["name"] == "model")
    assert model_field["choices"] == [m["key"] for m in info["models"]]
    assert {a["name"] for a in info["augmentations"]} >= {"hflip", "vflip", "rotation"}
    assert info["monitor"]["metric"] in info["metrics"]


def test_unavailable_task_is_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        load_task("object_detection")
    assert err.value.code == "task_unavailable"


def test_model_of_other_task_is_refused() -> None:
    task = load_task("classification")
    with pytest.raises(ValidationFailed) as err:
        task.check_config(task.make_config({}).model_copy(update={"model": "nope"}))
    assert "model" in err.value.details
