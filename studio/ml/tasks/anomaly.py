"""Anomaly detection: is an image good or anomalous (``Annotations.label`` = class id)?

The dataset's classes are the outcomes: a class named ``good`` (or ``normal``, ``ok``, ``0``,
case-insensitive) is normal, every other class is a kind of defect. The model has one output,
a logit; ``sigmoid(logit)`` is the anomaly score in [0, 1]. Training uses
``BCEWithLogitsLoss`` (``class_weights="balanced"`` weighs anomalies by good/anomalous) and
tracks AUROC (the monitored metric), F1 at 0.5 and average precision. Evaluation picks the
threshold (:mod:`studio.ml.eval_anomaly`); the exported file outputs the score and carries
that threshold in its metadata.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from studio.datasets.conventions import RULES
from studio.errors import ValidationFailed
from studio.ml.tasks.base import Task

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torchmetrics import MetricCollection

    from studio.ml.eval_metrics import TaskEvaluator
    from studio.ml.hparams import TrainingConfig
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord
    from studio.storage.evaluation_schemas import EvaluationAggregate

# one list for import, the Dataset page and training
NORMAL_NAMES = RULES["anomaly_detection"].normal_names


def is_normal(class_name: str) -> bool:
    return class_name.strip().lower() in NORMAL_NAMES


def check_threshold(value: Any) -> float:
    """``value`` as a float in [0, 1], or ``ValidationFailed`` (``bad_threshold``)."""
    number: float | None = None
    if not isinstance(value, bool) and isinstance(value, int | float | str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValidationFailed(
            f"The anomaly threshold must be a number from 0 to 1 (got {value!r})",
            code="bad_threshold",
            details={"threshold": ["Use a number from 0 to 1, e.g. 0.5, or leave it empty "
                                   "to use the threshold the evaluation chose"]},
        )  # fmt: skip
    return number


class AnomalyDetectionTask(Task):
    name: ClassVar[str] = "anomaly_detection"
    label: ClassVar[str] = "Anomaly detection"
    default_model: ClassVar[str] = "resnet18"
    monitor: ClassVar[str] = "auroc"
    monitor_mode: ClassVar[Literal["max", "min"]] = "max"
    ignored_hparams: ClassVar[frozenset[str]] = frozenset({"loss", "label_smoothing"})

    def __init__(self) -> None:
        self._anomalous_ids: set[int] = set()
        self._pos_weight: float | None = None
        self._threshold = 0.5

    # ------------------------------------------------------------------ data

    def usable(self, record: ImageRecord, dataset: DatasetFile) -> bool:
        label = record.annotations.label
        return label is not None and any(c.id == label for c in dataset.classes)

    def num_outputs(self, dataset: DatasetFile) -> int:
        return 1

    def output_names(self, dataset: DatasetFile) -> list[str]:
        return ["anomaly_score"]

    def fit_state(
        self, train_records: Sequence[ImageRecord], dataset: DatasetFile, config: TrainingConfig
    ) -> dict[str, Any]:
        """Which class ids are anomalous, the counts, and the positive weight (if balanced)."""
        normal = [c for c in dataset.classes if is_normal(c.name)]
        if not normal:
            raise ValidationFailed(
                "Anomaly detection needs a class named 'good' for the normal images",
                details={"classes": ["Import the normal images in a folder named good/"]},
            )
        anomalous = [c.id for c in dataset.classes if not is_normal(c.name)]
        n_bad = sum(1 for r in train_records if r.annotations.label in anomalous)
        n_good = len(train_records) - n_bad
        if not n_bad or not n_good:
            missing = "anomalous" if not n_bad else "good"
            raise ValidationFailed(
                f"The training images of this split have no {missing} image; "
                "anomaly detection needs both",
                details={"split_id": ["Choose a split whose training images hold both"]},
            )
        weight = n_good / n_bad if config.class_weights == "balanced" else None
        return {
            "anomalous_ids": anomalous,
            "normal_names": [c.name for c in normal],
            "counts": {"good": n_good, "anomalous": n_bad},
            "pos_weight": weight,
            "threshold": 0.5,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self._anomalous_ids = {int(i) for i in state.get("anomalous_ids", [])}
        weight = state.get("pos_weight")
        self._pos_weight = float(weight) if weight else None
        self._threshold = float(state.get("threshold", 0.5))

    def target_from_record(self, record: ImageRecord, dataset: DatasetFile) -> float:
        """1.0 for an anomalous image, 0.0 for a good one."""
        if not self._anomalous_ids:  # called without fit_state: follow the class names
            self._anomalous_ids = {c.id for c in dataset.classes if not is_normal(c.name)}
        return 1.0 if record.annotations.label in self._anomalous_ids else 0.0

    # ----------------------------------------------------------------- model

    def compute_loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        weight = None
        if self._pos_weight is not None:
            weight = torch.tensor([self._pos_weight], device=outputs.device)
        return F.binary_cross_entropy_with_logits(
            outputs.float().reshape(-1), targets.float().reshape(-1), pos_weight=weight
        )

    # --------------------------------------------------------------- metrics

    def chance_level(self, class_counts: Sequence[int]) -> tuple[str, float] | None:
        """A score that ranks anomalies no better than a coin: AUROC 0.5."""
        return "auroc", 0.5

    def make_metrics(self, num_outputs: int, *, evaluation: bool = False) -> MetricCollection:
        """auroc, f1 (at 0.5), average_precision; anomalous = positive."""
        from torchmetrics import MetricCollection
        from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision, BinaryF1Score

        return MetricCollection(
            {
                "auroc": BinaryAUROC(validate_args=False),
                "f1": BinaryF1Score(validate_args=False),
                "average_precision": BinaryAveragePrecision(validate_args=False),
            },
            compute_groups=False,
        )

    def metric_inputs(self, outputs: Any, targets: Any) -> tuple[Any, Any]:
        return outputs.float().reshape(-1).sigmoid(), targets.reshape(-1).long()

    # ----------------------------------------------------------- predictions

    def predict(self, outputs: torch.Tensor) -> list[dict[str, Any]]:
        """``{"score", "anomalous"}`` per image (anomalous at the task's threshold)."""
        scores = outputs.detach().float().reshape(-1).sigmoid().cpu()
        return [
            {"score": round(float(s), 6), "anomalous": bool(float(s) >= self._threshold)}
            for s in scores
        ]

    def evaluation_record(
        self, record: ImageRecord, prediction: Mapping[str, Any], dataset: DatasetFile
    ) -> dict[str, Any]:
        anomalous = int(self.target_from_record(record, dataset))
        return {"image_id": record.id, "anomalous": anomalous, "score": prediction["score"]}

    def evaluator(self) -> TaskEvaluator:
        from studio.ml.eval_anomaly import AnomalyEvaluator

        return AnomalyEvaluator()

    # ---------------------------------------------------------------- export

    def export_module(self, model: nn.Module) -> nn.Module:
        from torch import nn

        return nn.Sequential(model, nn.Sigmoid())

    def export_output(self, num_outputs: int) -> dict[str, str]:
        return {
            "output_name": "score",
            "output": (
                "score: float32 (batch, 1), the anomaly score in 0..1; an image is anomalous "
                "when score >= threshold"
            ),
        }

    export_options: ClassVar[frozenset[str]] = frozenset({"threshold"})

    def export_settings(
        self,
        options: Mapping[str, Any],
        evaluation: Callable[[], EvaluationAggregate | None],
    ) -> dict[str, str]:
        """The threshold an exported file carries (metadata ``threshold``) and its source.

        The ``threshold`` option (a number in [0, 1]) wins, else the threshold the evaluation
        of the exported checkpoint chose (``anomaly["all"]``), else 0.5; ``threshold_source``
        says which (option / evaluation / default). :meth:`predict` adopts it too.
        Raises ``ValidationFailed`` (``bad_threshold``) for anything but such a number.
        """
        value = options.get("threshold")
        if value is not None and value != "":
            threshold, source = check_threshold(value), "option"
        elif (aggregate := evaluation()) is not None and "all" in aggregate.anomaly:
            threshold, source = float(aggregate.anomaly["all"].threshold), "evaluation"
        else:
            threshold, source = 0.5, "default"
        self._threshold = threshold
        return {"threshold": repr(threshold), "threshold_source": source}

    # ---------------------------------------------------------------- config

    def default_hparams(self) -> dict[str, Any]:
        # Defects are often small and local: no crops, flips or rotations by default, which
        # could cut a defect away or make a good part look wrong.
        return {
            "model": self.default_model,
            "augment": {"hflip": False, "random_resized_crop": False},
        }
