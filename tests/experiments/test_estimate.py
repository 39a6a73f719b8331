"""Time per epoch before a run starts (``apps/experiments/estimate.py``) and its API, and the
image size suggested from the data (``apps/experiments/suggest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apps.experiments import estimate
from apps.experiments.suggest import image_size_hint, suggest_image_size
from studio.ml.catalog import models_for
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    estimate.reset_cache()
    yield
    estimate.reset_cache()


@pytest.fixture
def timed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """Replace the real timing: 1e-3 s per GFLOP of a step; records every measurement."""
    calls: list[tuple[str, int, int]] = []

    def fake(model: str, size: int, batch: int, device: str) -> float:
        calls.append((model, size, batch))
        return estimate.step_gflops(model, size, batch) * 1e-3

    monkeypatch.setattr(estimate, "_time_steps", fake)
    monkeypatch.setattr(estimate, "training_device", lambda: "cpu")
    return calls


def test_suggested_size_follows_the_median_image_within_the_model_range() -> None:
    assert suggest_image_size(32, 32, 224) == 32  # digits: not the 224 px default
    assert suggest_image_size(28, 28, 224) == 32  # rounded to a multiple of 32
    assert suggest_image_size(8, 8, 224) == 32  # never under 32 (total stride of the CNNs)
    assert suggest_image_size(120, 90, 224) == 96  # the side of the median pixel count
    assert suggest_image_size(640, 480, 224) == 224  # capped at the model's native size
    assert suggest_image_size(640, 480, 300) == 300
    hint = image_size_hint(32, 32, models_for("classification"))
    assert hint["per_model"]["resnet18"] == 32 and hint["native"]["efficientnet_b3"] == 300


def test_a_cheap_step_is_measured_once_and_cached(timed: list[tuple[str, int, int]]) -> None:
    first = estimate.epoch_estimate("resnet18", 32, 16, train_images=64, val_images=8)
    # calibration at 32 px (batches 2 and 8), then the settings themselves (cheap to time)
    assert timed == [("resnet18", 32, 2), ("resnet18", 32, 8), ("resnet18", 32, 16)]
    assert first.method == "measured"
    step = estimate.step_gflops("resnet18", 32, 16) * 1e-3
    assert first.step_s == pytest.approx(step)
    # 64 / 16 = 4 steps, plus the validation pass at a third of a step per image, plus the
    # data pipeline per image and the epoch's bookkeeping
    fixed = 72 * estimate.PER_IMAGE_S + estimate.PER_EPOCH_S
    assert first.epoch_s == pytest.approx(4 * step + 8 * step / 16 / 3 + fixed)
    again = estimate.epoch_estimate("resnet18", 32, 16, train_images=640, val_images=80)
    assert len(timed) == 3
    assert again.epoch_s - estimate.PER_EPOCH_S == pytest.approx(
        10 * (first.epoch_s - estimate.PER_EPOCH_S)
    )


def test_an_expensive_step_comes_from_the_calibrated_formula(
    timed: list[tuple[str, int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # this machine is 100x slower than the fake's rate: timing 224 px would take too long
    monkeypatch.setattr(
        estimate, "_time_steps", lambda m, s, b, d: estimate.step_gflops(m, s, b) * 0.1
    )
    result = estimate.epoch_estimate("resnet50", 224, 32, train_images=320, val_images=0)
    assert result.method == "formula"
    assert result.step_s == pytest.approx(estimate.step_gflops("resnet50", 224, 32) * 0.1)
    assert result.epoch_s == pytest.approx(
        10 * result.step_s + 320 * estimate.PER_IMAGE_S + estimate.PER_EPOCH_S
    )


def test_the_label_says_it_is_an_estimate() -> None:
    result = estimate.EpochEstimate(
        model="resnet18", image_size=32, batch_size=32, device="cpu", train_images=64,
        val_images=8, step_s=1.9, epoch_s=4.2, method="measured", epochs=30,
    )  # fmt: skip
    assert result.label == "≈ 4 s per epoch on this machine (estimate) · ≈ 2 min for 30 epochs"
    assert estimate.duration_text(0.3) == "< 1 s" and estimate.duration_text(5400) == "1 h 30 min"
    fast = estimate.EpochEstimate(
        model="resnet18", image_size=32, batch_size=32, device="cpu", train_images=64,
        val_images=8, step_s=0.01, epoch_s=0.4, method="measured", epochs=30,
    )  # fmt: skip
    assert fast.label == "< 1 s per epoch on this machine (estimate) · ≈ 12 s for 30 epochs"


def test_calibration_separates_the_fixed_overhead_from_the_compute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 50 ms per step whatever its size, plus 1 s per 100 GFLOP: small steps are all overhead
    monkeypatch.setattr(
        estimate, "_time_steps", lambda m, s, b, d: 0.05 + estimate.step_gflops(m, s, b) / 100
    )
    monkeypatch.setattr(estimate, "training_device", lambda: "cpu")
    result = estimate.epoch_estimate("resnet18", 224, 32, train_images=32, val_images=0)
    assert result.method == "formula"
    assert result.step_s == pytest.approx(0.05 + estimate.step_gflops("resnet18", 224, 32) / 100)


def test_a_real_measurement_of_a_tiny_step() -> None:
    seconds, method, device = estimate.step_seconds("mobilenet_v3_small", 32, 2)
    assert method == "measured" and 0 < seconds < 30 and device in ("cpu", "cuda")


def test_estimate_api(api: Any, digits: tuple[str, str], timed: Any) -> None:
    pid, sid = digits
    url = f"/api/experiments/{pid}/estimate"
    response = api.get(url, {"model": "resnet18", "image_size": 32, "batch_size": 16,
                             "split": sid, "epochs": 30})  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["train_images"] == 64 and body["val_images"] == 8  # the split's 80/10/10
    assert body["epoch_s"] > 0 and body["total_s"] == pytest.approx(30 * body["epoch_s"], abs=0.2)
    assert body["method"] == "measured" and "per epoch on this machine (estimate)" in body["label"]
    # without a split: the newest one
    default = api.get(url, {"model": "resnet18", "image_size": 32, "batch_size": 16}).json()
    assert default["train_images"] == 64 and default["epochs"] is None

    bad = assert_error(api.get(url, {"model": "nope", "image_size": 32, "batch_size": 16}),
                       400, "validation_error")  # fmt: skip
    assert "model" in bad["details"]
    bad = assert_error(api.get(url, {"model": "resnet18", "image_size": 4, "batch_size": 16}),
                       400, "validation_error")  # fmt: skip
    assert "image_size" in bad["details"]
    assert_error(
        api.get(url, {"model": "resnet18", "image_size": 32, "batch_size": 8, "split": "snope"}),
        404, "not_found",
    )  # fmt: skip


def test_estimate_is_in_the_openapi_schema(api: Any) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    op = schema["paths"]["/api/experiments/{project_id}/estimate"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"model", "image_size", "batch_size", "split"}
    assert "200" in op["responses"]
