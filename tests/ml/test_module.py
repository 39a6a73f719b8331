"""Generic LightningModule pieces: LR schedule, input conversion, optimizer, trainer factory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studio.errors import ValidationFailed
from studio.ml.hparams import TrainingConfig, precision_problem
from studio.ml.module import LrSchedule, _to_float
from studio.ml.trainer import build_trainer


def test_warmup_is_linear_then_cosine_to_zero() -> None:
    s = LrSchedule("cosine", total_steps=100, warmup_steps=10, steps_per_epoch=10)
    warm = [s(i) for i in range(10)]
    assert warm == sorted(warm) and warm[0] < 0.2 and warm[-1] < 1
    assert s(10) == pytest.approx(1.0)
    assert s(55) == pytest.approx(0.5)
    assert s(100) == pytest.approx(0.0, abs=1e-9) and s(500) == pytest.approx(0.0, abs=1e-9)


def test_step_onecycle_and_none_schedules() -> None:
    step = LrSchedule("step", 100, 0, 10, step_size=3, gamma=0.5)
    assert step(0) == 1.0 and step(29) == 1.0 and step(30) == 0.5 and step(60) == 0.25
    one = LrSchedule("onecycle", 100, 0, 10)
    assert one(0) == pytest.approx(1 / 25) and one(30) == pytest.approx(1.0)
    assert one(100) == pytest.approx(1e-4)
    flat = LrSchedule("none", 100, 5, 10)
    assert flat(2) < 1 and flat(50) == 1.0


def test_schedule_state_is_plain_data() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, LrSchedule("cosine", 10, 2, 5))
    state = sched.state_dict()
    assert state["lr_lambdas"][0]["total_steps"] == 10  # the dataclass fields, no code


def test_inputs_become_normalised_floats() -> None:
    mean = torch.tensor([0.5, 0.5, 0.5])
    std = torch.tensor([0.25, 0.25, 0.25])
    images = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = _to_float(images, mean, std, True)
    assert out.dtype == torch.float32 and torch.allclose(out, torch.full_like(out, 2.0))
    listed = _to_float([images[0], images[1]], mean, std, False)
    assert isinstance(listed, list) and torch.allclose(listed[0], torch.ones(3, 4, 4))


def test_trainer_refuses_precision_the_device_cannot_run(tmp_path: Path) -> None:
    config = TrainingConfig.model_validate({"precision": "16-mixed"}, context={"cuda": True})
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValidationFailed) as err:
        build_trainer(config, tmp_path, [])
    assert "precision" in err.value.details


def test_trainer_is_quiet_single_device(tmp_path: Path) -> None:
    precision = "bf16-mixed" if precision_problem("bf16-mixed") is None else "32"
    config = TrainingConfig.model_validate({"precision": precision})
    trainer = build_trainer(config, tmp_path, [])
    assert trainer.max_epochs == 30
    assert trainer.logger is None and not trainer.progress_bar_callback
    assert trainer.num_devices == 1
