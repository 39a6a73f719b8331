"""How long one training epoch will take on this machine, before a run starts.

Contract: :func:`epoch_estimate` answers within about a second in the web process.

- The cost of one training step (forward + backward + optimiser step) of a catalog model at
  an image size and batch size is *measured* here when that is cheap: a warm-up step and a
  timed step on random images, at most :data:`MEASURE_BUDGET_S` for both (predicted first).
- Otherwise it comes from a formula: a step costs a fixed overhead plus
  ``3 * forward GFLOPs * batch`` (forward GFLOPs scale with the pixel count) divided by this
  machine's rate for that model. Overhead and rate are *calibrated once* per model and
  device from two small steps (≤ 64 px, batches 2 and 8): depthwise-heavy models
  (MobileNet, EfficientNet) get their own, lower rate, and small steps, dominated by the
  overhead, do not make big ones look slower than they are.
- Measurements and rates are cached per process (model, size, batch, device); the numbers
  are estimates: data loading and bookkeeping are rough constants, and other work on the
  machine (another training) slows the measurement as it will slow the run. On a busy
  machine the one-off calibration of a model can take a few seconds.

An epoch = ``floor(train images / batch)`` steps + a validation pass over the val images at
about a third of a training step per image (forward only) + small constants for the data
pipeline and the epoch's bookkeeping (:data:`PER_IMAGE_S`, :data:`PER_EPOCH_S`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from studio.ml.catalog import get_spec

MEASURE_BUDGET_S = 1.0
CALIBRATION_SIZE = 64
CALIBRATION_BATCHES = (2, 8)
VALIDATION_COST = 1 / 3  # a forward pass costs about a third of forward + backward
# Outside the model: decoding/augmenting each image (the cached uint8 tensors, v2 transforms)
# and, per epoch, Lightning's loop, the metrics and the hand-off of checkpoints to the writer.
# Rough constants from digits runs on a 2-core CPU; small next to the model at usual sizes.
PER_IMAGE_S = 0.001
PER_EPOCH_S = 0.5
# Forward GFLOPs at 224 px of the torchvision models (their published numbers); unknown
# models count as 2 GFLOPs until a measurement calibrates them.
GFLOPS_224 = {
    "resnet18": 1.81, "resnet34": 3.66, "resnet50": 4.09, "efficientnet_b0": 0.39,
    "efficientnet_b3": 1.83, "mobilenet_v3_small": 0.057, "mobilenet_v3_large": 0.217,
}  # fmt: skip

_lock = threading.Lock()
_measured: dict[tuple[str, int, int, str], float] = {}
_fits: dict[tuple[str, str], tuple[float, float]] = {}  # (overhead s, GFLOP/s)
_models: dict[tuple[str, str], Any] = {}  # the last model built (one at a time: memory)


@dataclass(frozen=True)
class EpochEstimate:
    """Seconds per step and per epoch; ``method`` says where the step time came from:
    ``measured`` (timed at exactly these settings) or ``formula`` (calibrated GFLOPs)."""

    model: str
    image_size: int
    batch_size: int
    device: str
    train_images: int
    val_images: int
    step_s: float
    epoch_s: float
    method: str
    epochs: int | None = None

    @property
    def total_s(self) -> float | None:
        return None if self.epochs is None else self.epoch_s * self.epochs

    @property
    def label(self) -> str:
        """e.g. ``≈ 4 s per epoch on this machine (estimate) · ≈ 2 min for 30 epochs``."""
        where = "on this machine's GPU" if self.device == "cuda" else "on this machine"
        text = f"{approx(self.epoch_s)} per epoch {where} (estimate)"
        if self.total_s is not None and self.epochs and self.epochs > 1:
            text += f" · {approx(self.total_s)} for {self.epochs} epochs"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "image_size": self.image_size, "batch_size": self.batch_size,
            "device": self.device, "train_images": self.train_images,
            "val_images": self.val_images, "step_s": round(self.step_s, 4),
            "epoch_s": round(self.epoch_s, 2), "epochs": self.epochs,
            "total_s": None if self.total_s is None else round(self.total_s, 1),
            "method": self.method, "label": self.label,
        }  # fmt: skip


def approx(seconds: float) -> str:
    """``≈ 4 s``, but ``< 1 s`` (already a bound, no "≈" before it)."""
    text = duration_text(seconds)
    return text if text.startswith("<") else f"≈ {text}"


def duration_text(seconds: float) -> str:
    """A rounded human duration: ``< 1 s``, ``4 s``, ``3 min``, ``1 h 20 min``."""
    if seconds < 1:
        return "< 1 s"
    if seconds < 60:
        return f"{round(seconds)} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def training_device() -> str:
    """Where the worker will train: the GPU when there is one (as ``run_training`` picks)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def step_gflops(model: str, image_size: int, batch_size: int) -> float:
    """Compute of one training step: ~3 times the forward pass, linear in pixels and batch."""
    return 3 * GFLOPS_224.get(model, 2.0) * (image_size / 224) ** 2 * batch_size


def _time_steps(model: str, image_size: int, batch_size: int, device: str) -> float:
    """Seconds of one training step on random images: the faster of two after a warm-up
    step (which allocates, so it is never counted), only one when the steps are slow."""
    import torch
    import torchvision

    key = (model, device)
    net = _models.get(key)
    if net is None:
        _models.clear()
        spec = get_spec(model)
        net = torchvision.models.get_model(spec.builder, weights=None).to(device)
        _models[key] = net
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3)
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    y = torch.zeros(batch_size, dtype=torch.long, device=device)
    # BatchNorm needs more than one value per channel in training mode
    x = torch.cat([x, x]) if batch_size == 1 else x
    y = torch.cat([y, y]) if batch_size == 1 else y
    times: list[float] = []
    began = time.perf_counter()
    for _ in range(3):
        if len(times) >= 2 and time.perf_counter() - began > MEASURE_BUDGET_S / 2:
            break
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    opt.zero_grad(set_to_none=True)
    elapsed = min(times[1:])
    per = elapsed / 2 if batch_size == 1 else elapsed  # the doubled batch-of-one
    return max(per, 1e-6)


def _calibrate(model: str, size: int, device: str) -> tuple[float, float]:
    """(overhead seconds, GFLOP/s) of a training step, from batches of 2 and 8 at ``size``."""
    b1, b2 = CALIBRATION_BATCHES
    t1 = _measured[(model, size, b1, device)] = _time_steps(model, size, b1, device)
    g1, g2 = step_gflops(model, size, b1), step_gflops(model, size, b2)
    t2 = _measured[(model, size, b2, device)] = _time_steps(model, size, b2, device)
    if t2 > t1:
        rate = (g2 - g1) / (t2 - t1)
        return max(0.0, t1 - g1 / rate), rate
    return 0.0, g2 / t2  # noise (a busy machine): no overhead, the bigger step's rate


def step_seconds(model: str, image_size: int, batch_size: int) -> tuple[float, str, str]:
    """``(seconds per training step, method, device)`` for these settings (see the module)."""
    get_spec(model)  # unknown models are a 400, never a guess
    device = training_device()
    key = (model, image_size, batch_size, device)
    with _lock:  # one measurement at a time: concurrent ones would slow each other
        if key in _measured:
            return _measured[key], "measured", device
        fit_key = (model, device)
        if fit_key not in _fits:
            _fits[fit_key] = _calibrate(model, min(image_size, CALIBRATION_SIZE), device)
            if key in _measured:
                return _measured[key], "measured", device
        overhead, rate = _fits[fit_key]
        predicted = overhead + step_gflops(model, image_size, batch_size) / rate
        if 3 * predicted <= MEASURE_BUDGET_S:  # a warm-up and two timed steps
            seconds = _time_steps(model, image_size, batch_size, device)
            _measured[key] = seconds
            return seconds, "measured", device
        return predicted, "formula", device


def epoch_estimate(
    model: str,
    image_size: int,
    batch_size: int,
    train_images: int,
    val_images: int,
    epochs: int | None = None,
) -> EpochEstimate:
    """Seconds per epoch of training ``train_images`` and validating ``val_images``."""
    step, method, device = step_seconds(model, image_size, batch_size)
    # the training loader drops the last partial batch (when there is a full one)
    steps = train_images // batch_size if train_images >= batch_size else min(train_images, 1)
    epoch = (
        steps * step
        + val_images * step / batch_size * VALIDATION_COST
        + (train_images + val_images) * PER_IMAGE_S
        + PER_EPOCH_S
    )
    return EpochEstimate(
        model=model, image_size=image_size, batch_size=batch_size, device=device,
        train_images=train_images, val_images=val_images, step_s=step, epoch_s=epoch,
        method=method, epochs=epochs,
    )  # fmt: skip


def reset_cache() -> None:
    """Forget every measurement (tests)."""
    with _lock:
        _measured.clear()
        _fits.clear()
        _models.clear()
