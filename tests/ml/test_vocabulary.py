"""The metric vocabulary: every metric a task declares or an evaluation reports has a label
and a kind, and the formats are the ones the pages promise."""

from __future__ import annotations

import math
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from studio.ml import vocabulary
from studio.ml.tasks.registry import TASKS, load_task
from studio.ml.vocabulary import format_in_units, format_value, metric_label
from studio.storage import evaluation_schemas as es

# numeric fields of these evaluation schemas are metrics a page shows
EVALUATION_MODELS: list[type[BaseModel]] = [
    es.SubsetMetrics, es.ClassMetrics, es.CalibrationBin, es.AnomalyMetrics,
    es.RegressionMetrics, es.TargetMetrics, es.ImageResult, es.TopK,
]  # fmt: skip
NOT_METRICS = {"class_id", "true_class_id", "pred_class_id", "lower", "upper", "schema_version"}


def _numeric(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(args) and all(a in (int, float) for a in args)
    return False


def task_metric_keys() -> set[str]:
    """What training logs for every available task: ``val_<metric>`` + the losses."""
    keys = {"train_loss", "val_loss"}
    for info in TASKS.values():
        if not info.available:
            continue
        task = load_task(info.type.value)
        keys |= {f"val_{k}" for k in task.make_metrics(2)}
        keys.add(f"val_{task.monitor}")
    return keys


def evaluation_metric_keys() -> set[str]:
    """The numbers of an evaluation report: the schemas' numeric fields + macro averages."""
    keys = {f"macro_{f}" for f in es.MacroMetrics.model_fields}
    for model in EVALUATION_MODELS:
        keys |= {
            name
            for name, field in model.model_fields.items()
            if name not in NOT_METRICS and _numeric(field.annotation)
        }
    return keys


def test_the_registry_yields_the_known_keys() -> None:
    """The derivation works (so the next test cannot pass on an empty set)."""
    keys = task_metric_keys()
    assert {"val_accuracy", "val_f1", "val_auroc", "val_average_precision", "val_mae",
            "val_mse", "val_rmse", "val_r2", "train_loss", "val_loss"} <= keys  # fmt: skip
    assert {"accuracy", "ece", "macro_f1", "auroc", "average_precision", "threshold", "mae",
            "rmse", "r2", "confidence", "score", "probability", "count"} <= evaluation_metric_keys()  # fmt: skip


@pytest.mark.parametrize("key", sorted(task_metric_keys() | evaluation_metric_keys()))
def test_every_metric_has_a_label_and_a_kind(key: str) -> None:
    metric = vocabulary.lookup(key)
    assert metric is not None, f"{key} is not in studio/ml/vocabulary.py METRICS: add it"
    assert metric.label and metric.short
    assert metric.kind in vocabulary.FORMATS
    assert "_" not in metric_label(key)


def test_headline_names_of_each_evaluator_are_known() -> None:
    """The evaluators' headline metric (what list cards show) is in the vocabulary."""
    import inspect
    import re

    from studio.ml import eval_anomaly, eval_metrics, eval_regression

    for module in (eval_metrics, eval_anomaly, eval_regression):
        names = re.findall(r'headline=\("(\w+)"', inspect.getsource(module))
        assert names, module.__name__
        assert all(vocabulary.lookup(n) for n in names), names


@pytest.mark.parametrize(
    ("name", "short", "label"),
    [("val_accuracy", False, "Validation accuracy"), ("val_accuracy", True, "Val accuracy"),
     ("train_loss", False, "Training loss"), ("val_loss", True, "Val loss"),
     ("val_f1", False, "Validation F1"), ("val_auroc", False, "Validation AUROC"),
     ("val_average_precision", True, "Val AP"), ("test_r2", False, "Test R²"),
     ("macro_f1", False, "Macro F1"), ("ece", False, "ECE"), ("mae", False, "MAE"),
     ("new_metric", False, "New metric"), ("val_new_metric", False, "Validation new metric"),
     ("val_", False, "Val ")],
)  # fmt: skip
def test_labels(name: str, short: bool, label: str) -> None:
    assert metric_label(name, short=short) == label


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        # shares: a percentage with one decimal, whatever the key's prefix
        ("val_accuracy", 0.9496, "95.0 %"), ("accuracy", 0.903, "90.3 %"),
        ("val_f1", 0.9496, "95.0 %"), ("macro_f1", 1.0, "100.0 %"), ("ece", 0.0234, "2.3 %"),
        ("auroc", 0.98123, "98.1 %"), ("agreement", 0.9995, "100.0 %"),
        # half away from zero on the exact binary value, as JavaScript's toFixed
        ("accuracy", 0.0625, "6.3 %"), ("accuracy", 0.0, "0.0 %"),
        # losses: four significant digits
        ("val_loss", 0.23456, "0.2346"), ("train_loss", 1.23456, "1.235"),
        ("train_loss", 12.0, "12.00"), ("loss", 0.0, "0.000"), ("val_loss", 2345.6, "2346"),
        # errors in target units: three significant digits, trailing zeros kept
        ("val_mae", 3.5, "3.50"), ("mae", 0.012345, "0.0123"), ("rmse", 123.4, "123"),
        ("mae", -4.2, "-4.20"), ("mse", 1234.5, "1235"),
        # R², thresholds, scores, counts
        ("val_r2", 0.91249, "0.912"), ("r2", -1.5, "-1.500"), ("threshold", 0.5, "0.5000"),
        ("score", 0.123456, "0.1235"), ("count", 12, "12"), ("support", 3.0, "3"),
        # unknown keys: four significant digits; missing values: an en dash
        ("lr", 0.001, "0.001000"), ("something", 2.0, "2.000"),
        ("accuracy", None, "\u2013"), ("mae", math.nan, "\u2013"), ("r2", math.inf, "\u2013"),
        ("accuracy", True, "\u2013"), ("accuracy", "0.5", "50.0 %"), ("accuracy", "x", "\u2013"),
    ],
)  # fmt: skip
def test_format_value(name: str, value: Any, text: str) -> None:
    assert format_value(name, value) == text


@pytest.mark.parametrize(
    ("value", "scale", "text"),
    [(8.0, 3.5, "8.00"), (12.345, 3.5, "12.35"), (0.0, 3.5, "0.00"), (123.0, 12.3, "123.0"),
     (0.1234, 0.0123, "0.1234"), (5.0, 0.0, "5.000"), (5.0, None, "5.000"), (None, 1.0, "\u2013")],
)  # fmt: skip
def test_values_in_target_units_take_the_precision_of_the_mae(
    value: float | None, scale: float | None, text: str
) -> None:
    assert format_in_units(value, scale) == text
    if value is not None and scale:  # the column and the MAE have the same decimals
        assert len(text.partition(".")[2]) == len(format_value("mae", scale).partition(".")[2])


def test_json_copy_carries_everything_the_browser_needs() -> None:
    data = vocabulary.as_json()
    assert set(data["metrics"]) == set(vocabulary.METRICS)
    assert data["metrics"]["accuracy"]["kind"] == "share"
    assert set(data["prefixes"]) == {"train_", "val_", "test_"}
    assert {m["kind"] for m in data["metrics"].values()} <= set(data["formats"])
