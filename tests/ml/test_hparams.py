"""Hyperparameter validation: defaults always valid, every error names its field."""

from __future__ import annotations

from typing import Any

import pytest

from studio.errors import ValidationFailed
from studio.ml.hparams import (
    Augmentations,
    TrainingConfig,
    describe_fields,
    parse_config,
    precision_problem,
)
from studio.ml.tasks.registry import load_task


def test_defaults_validate() -> None:
    config = parse_config({}, cuda=False)
    assert config == TrainingConfig()
    assert config.pretrained is False and config.precision == "32"
    assert load_task("classification").make_config({}, cuda=False).augment.hflip is True


def test_user_values_layer_over_task_defaults() -> None:
    config = parse_config(
        {"augment": {"vflip": True}, "lr": 0.01},
        {"augment": {"hflip": False}, "lr": 0.5},
        cuda=False,
    )
    assert config.lr == 0.01
    assert config.augment.vflip is True and config.augment.hflip is False


BAD: list[tuple[dict[str, Any], str]] = [
    ({"model": "vgg16"}, "model"),
    ({"model": 3}, "model"),
    ({"pretrained": "maybe"}, "pretrained"),
    ({"freeze_backbone": "x"}, "freeze_backbone"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"lr": 0}, "lr"),
    ({"lr": -1}, "lr"),
    ({"lr": "fast"}, "lr"),
    ({"lr": 11}, "lr"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"momentum": 1.0}, "momentum"),
    ({"scheduler": "plateau"}, "scheduler"),
    ({"warmup_epochs": -1}, "warmup_epochs"),
    ({"warmup_epochs": 101}, "warmup_epochs"),
    ({"step_size": 0}, "step_size"),
    ({"step_gamma": 0}, "step_gamma"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 4096}, "batch_size"),
    ({"image_size": 8}, "image_size"),
    ({"early_stopping_patience": -1}, "early_stopping_patience"),
    ({"seed": -1}, "seed"),
    ({"precision": "64"}, "precision"),
    ({"precision": "16-mixed"}, "precision"),  # no CUDA (forced below)
    ({"num_workers": -1}, "num_workers"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"class_weights": "inverse"}, "class_weights"),
    ({"augment": {"hflip": "sometimes"}}, "augment.hflip"),
    ({"augment": {"rotation": 181}}, "augment.rotation"),
    ({"augment": {"color_jitter": 2}}, "augment.color_jitter"),
    ({"augment": {"crop_min_scale": 0}}, "augment.crop_min_scale"),
    ({"augment": {"grayscale": 1.5}}, "augment.grayscale"),
    ({"augment": {"random_erasing": -0.5}}, "augment.random_erasing"),
    ({"augment": {"mixup": 0.2}}, "augment.mixup"),
    ({"augment": "yes"}, "augment"),
    ({"learning_rate": 0.1}, "learning_rate"),
]


@pytest.mark.parametrize(("data", "field"), BAD, ids=[f"{f}={d}" for d, f in BAD])
def test_invalid_value_names_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_config(data, cuda=False)
    details = err.value.details
    assert field in details, details
    assert all(isinstance(m, str) and m for m in details[field])
    assert field in err.value.message
    assert "Input should" not in " ".join(details[field])


def test_all_errors_are_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_config({"lr": 0, "epochs": 0, "augment": {"rotation": -1}}, cuda=False)
    assert set(err.value.details) == {"lr", "epochs", "augment.rotation"}


def test_precision_follows_the_device() -> None:
    assert parse_config({"precision": "16-mixed"}, cuda=True).precision == "16-mixed"
    assert precision_problem("16-mixed", cuda=False)
    assert precision_problem("32", cuda=False) is None


def test_describe_fields_lists_help_bounds_and_choices() -> None:
    info = describe_fields({"lr": 0.5})
    by_name = {f["name"]: f for f in info["hyperparameters"]}
    assert by_name["lr"]["default"] == 0.5
    assert by_name["lr"]["exclusive_minimum"] == 0
    assert by_name["optimizer"]["choices"] == ["sgd", "adam", "adamw"]
    assert by_name["epochs"]["type"] == "int" and by_name["epochs"]["minimum"] == 1
    assert {f["name"] for f in info["augmentations"]} == set(Augmentations.model_fields)
