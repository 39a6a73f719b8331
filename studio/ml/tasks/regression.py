"""Regression: one or more numbers per image (``Annotations.target``, ``DatasetFile.target_names``).

The model has ``num_outputs`` = number of targets linear units. Targets are z-score normalised
with the mean/std of the training images (``fit_state``, saved in every checkpoint and in the
export metadata); the loss (``config.loss``: MSE, L1 or Huber) works on normalised values,
while metrics (MAE, MSE, RMSE, R²) and predictions are in original units. The exported graph
undoes the normalisation, so the file outputs original units too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from studio.errors import ValidationFailed
from studio.ml.tasks.base import Task

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torchmetrics import MetricCollection

    from studio.ml.eval_metrics import TaskEvaluator
    from studio.ml.hparams import TrainingConfig
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord


def _denormalize_module(model: nn.Module, mean: list[float], std: list[float]) -> nn.Module:
    import torch
    from torch import nn

    class Denormalize(nn.Module):
        mean: torch.Tensor
        std: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor([mean], dtype=torch.float32))
            self.register_buffer("std", torch.tensor([std], dtype=torch.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.std + self.mean

    return nn.Sequential(model, Denormalize())


class RegressionTask(Task):
    name: ClassVar[str] = "regression"
    label: ClassVar[str] = "Regression"
    default_model: ClassVar[str] = "resnet18"
    monitor: ClassVar[str] = "mae"
    monitor_mode: ClassVar[Literal["max", "min"]] = "min"
    ignored_hparams: ClassVar[frozenset[str]] = frozenset({"label_smoothing", "class_weights"})

    def __init__(self) -> None:
        self._mean: list[float] = []
        self._std: list[float] = []
        self._names: list[str] = []
        self._loss = "mse"

    # ------------------------------------------------------------------ data

    def usable(self, record: ImageRecord, dataset: DatasetFile) -> bool:
        target = record.annotations.target
        return (
            target is not None
            and len(target) == len(dataset.target_names)
            and all(math.isfinite(v) for v in target)
        )

    def num_outputs(self, dataset: DatasetFile) -> int:
        return len(dataset.target_names)

    def output_names(self, dataset: DatasetFile) -> list[str]:
        return list(dataset.target_names)

    def fit_state(
        self, train_records: Sequence[ImageRecord], dataset: DatasetFile, config: TrainingConfig
    ) -> dict[str, Any]:
        """Per-target mean and std of the training images (std 1 for a constant target)."""
        k = len(dataset.target_names)
        if not k:
            raise ValidationFailed(
                "Regression needs numeric targets; import a CSV with a number per image",
                details={"dataset": ["No target columns were imported"]},
            )
        values = [r.annotations.target for r in train_records if r.annotations.target]
        if len(values) < 2:
            raise ValidationFailed(
                "Regression needs at least two training images with targets",
                details={"split_id": ["Choose a split with more training images"]},
            )
        mean = [sum(v[j] for v in values) / len(values) for j in range(k)]
        std = [
            math.sqrt(sum((v[j] - mean[j]) ** 2 for v in values) / len(values)) for j in range(k)
        ]
        return {
            "target_names": list(dataset.target_names),
            "mean": mean,
            "std": [s if s > 1e-12 else 1.0 for s in std],
            "loss": config.loss,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self._mean = [float(v) for v in state["mean"]]
        self._std = [float(v) for v in state["std"]]
        self._names = [str(n) for n in state.get("target_names", [])]
        self._loss = str(state.get("loss", "mse"))

    def target_from_record(self, record: ImageRecord, dataset: DatasetFile) -> torch.Tensor:
        """The z-scored targets as a float32 tensor of shape ``(num_outputs,)``."""
        import torch

        values = torch.tensor(record.annotations.target, dtype=torch.float32)
        if not self._mean:  # called without fit_state: no normalisation
            return values
        mean = torch.tensor(self._mean, dtype=torch.float32)
        std = torch.tensor(self._std, dtype=torch.float32)
        return (values - mean) / std

    def _denormalize(self, values: torch.Tensor) -> torch.Tensor:
        import torch

        if not self._mean:
            return values
        mean = torch.tensor(self._mean, dtype=values.dtype, device=values.device)
        std = torch.tensor(self._std, dtype=values.dtype, device=values.device)
        return values * std + mean

    # ----------------------------------------------------------------- model

    def compute_loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        out, target = outputs.float(), targets.float().reshape(outputs.shape)
        if self._loss == "l1":
            return F.l1_loss(out, target)
        if self._loss == "huber":
            return F.huber_loss(out, target, delta=1.0)
        return F.mse_loss(out, target)

    # --------------------------------------------------------------- metrics

    def chance_level(self, class_counts: Sequence[int]) -> tuple[str, float] | None:
        """Predicting the mean target scores R² 0 (whatever the monitored error)."""
        return "r2", 0.0

    def make_metrics(self, num_outputs: int, *, evaluation: bool = False) -> MetricCollection:
        """mae, mse, rmse, r2 in original units (averaged uniformly over the targets)."""
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

        return MetricCollection(
            {
                "mae": MeanAbsoluteError(),
                "mse": MeanSquaredError(),
                "rmse": MeanSquaredError(squared=False),
                "r2": R2Score(multioutput="uniform_average"),
            },
            compute_groups=False,
        )

    def metric_inputs(self, outputs: Any, targets: Any) -> tuple[Any, Any]:
        out = self._denormalize(outputs.detach().float())
        return out, self._denormalize(targets.float().reshape(out.shape))

    # ----------------------------------------------------------- predictions

    def predict(self, outputs: torch.Tensor) -> list[dict[str, Any]]:
        """``{"values": [...]}`` per image, in original units and target order."""
        values = self._denormalize(outputs.detach().float()).cpu()
        return [{"values": [round(float(v), 6) for v in row]} for row in values]

    def evaluation_record(
        self, record: ImageRecord, prediction: Mapping[str, Any], dataset: DatasetFile
    ) -> dict[str, Any]:
        return {
            "image_id": record.id,
            "targets": list(record.annotations.target or []),
            "predictions": list(prediction["values"]),
        }

    def evaluator(self) -> TaskEvaluator:
        from studio.ml.eval_regression import RegressionEvaluator

        return RegressionEvaluator()

    # ---------------------------------------------------------------- export

    def export_module(self, model: nn.Module) -> nn.Module:
        return _denormalize_module(model, self._mean, self._std)

    def export_output(self, num_outputs: int) -> dict[str, str]:
        return {
            "output_name": "values",
            "output": (
                f"values: float32 (batch, {num_outputs}), predictions in original units, in "
                "target_names order"
            ),
            "target_names": json.dumps(self._names, ensure_ascii=False),
            "target_mean": json.dumps(self._mean),
            "target_std": json.dumps(self._std),
        }

    # ---------------------------------------------------------------- config

    def default_hparams(self) -> dict[str, Any]:
        # Flips and crops can change what is measured (position, size, brightness of a region):
        # off by default; switch them on when the target is invariant to them.
        return {
            "model": self.default_model,
            "augment": {"hflip": False, "random_resized_crop": False},
        }
