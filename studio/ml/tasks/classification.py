"""Classification: one label per image (``Annotations.label`` = class id).

Outputs are logits in dataset class order (``DatasetFile.classes``); class ids may have gaps,
so the task keeps the id ↔ output-index mapping in its state (saved in checkpoints) and
predictions report class ids, never bare indices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from studio.errors import ValidationFailed
from studio.ml.tasks.base import Task

if TYPE_CHECKING:
    import torch
    from torchmetrics import MetricCollection

    from studio.ml.eval_metrics import TaskEvaluator
    from studio.ml.hparams import TrainingConfig
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord


class ClassificationTask(Task):
    name: ClassVar[str] = "classification"
    label: ClassVar[str] = "Classification"
    default_model: ClassVar[str] = "resnet18"
    monitor: ClassVar[str] = "accuracy"
    monitor_mode: ClassVar[Literal["max", "min"]] = "max"
    ignored_hparams: ClassVar[frozenset[str]] = frozenset({"loss"})

    def __init__(self) -> None:
        self._class_ids: list[int] = []
        self._class_names: list[str] = []
        self._class_weights: list[float] | None = None
        self._label_smoothing = 0.0
        self._weight_cache: torch.Tensor | None = None

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers may pickle the task (collate): never ship a device tensor
        state = self.__dict__.copy()
        state["_weight_cache"] = None
        return state

    # ------------------------------------------------------------------ data

    def usable(self, record: ImageRecord, dataset: DatasetFile) -> bool:
        label = record.annotations.label
        return label is not None and any(c.id == label for c in dataset.classes)

    def num_outputs(self, dataset: DatasetFile) -> int:
        return len(dataset.classes)

    def fit_state(
        self, train_records: Sequence[ImageRecord], dataset: DatasetFile, config: TrainingConfig
    ) -> dict[str, Any]:
        """Output order (class ids/names), label smoothing and per-class loss weights.

        ``class_weights="balanced"`` weighs class c by ``n / (k * count_c)`` (scikit-learn's
        definition); classes absent from the training records get weight 1 (they never
        appear as a target, so their weight has no effect on the loss).
        """
        if len(dataset.classes) < 2:
            raise ValidationFailed(
                "Classification needs at least two classes",
                details={"classes": ["Add a second class to the dataset"]},
            )
        ids = [c.id for c in dataset.classes]
        index = {cid: i for i, cid in enumerate(ids)}
        counts = [0] * len(ids)
        for record in train_records:
            if record.annotations.label in index:
                counts[index[record.annotations.label]] += 1
        weights = None
        if config.class_weights == "balanced":
            n, k = sum(counts), len(counts)
            weights = [n / (k * c) if c else 1.0 for c in counts]
        return {
            "class_ids": ids,
            "class_names": [c.name for c in dataset.classes],
            "class_counts": counts,
            "class_weights": weights,
            "label_smoothing": config.label_smoothing,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self._class_ids = [int(i) for i in state["class_ids"]]
        self._class_names = [str(n) for n in state.get("class_names", [])]
        weights = state.get("class_weights")
        self._class_weights = [float(w) for w in weights] if weights else None
        self._label_smoothing = float(state.get("label_smoothing", 0.0))
        self._weight_cache = None

    def target_from_record(self, record: ImageRecord, dataset: DatasetFile) -> int:
        """The output index of the record's class."""
        if not self._class_ids:  # called without fit_state: follow the dataset's order
            self._class_ids = [c.id for c in dataset.classes]
        return self._class_ids.index(record.annotations.label)  # type: ignore[arg-type]

    # ----------------------------------------------------------------- model

    def compute_loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy with the configured label smoothing and class weights."""
        import torch
        import torch.nn.functional as F

        weight = None
        if self._class_weights is not None:
            if self._weight_cache is None or self._weight_cache.device != outputs.device:
                self._weight_cache = torch.tensor(
                    self._class_weights, dtype=torch.float32, device=outputs.device
                )
            weight = self._weight_cache
        return F.cross_entropy(
            outputs.float(), targets, weight=weight, label_smoothing=self._label_smoothing
        )

    # --------------------------------------------------------------- metrics

    def chance_level(self, class_counts: Sequence[int]) -> tuple[str, float] | None:
        """Micro accuracy of always answering the most common class: 1/k when balanced."""
        counts = [c for c in class_counts if c > 0]
        if len(counts) < 2:
            return None
        return "accuracy", max(max(counts) / sum(counts), 1 / len(counts))

    def make_metrics(self, num_outputs: int, *, evaluation: bool = False) -> MetricCollection:
        """accuracy (micro), precision/recall/f1 (macro); + confusion_matrix for evaluation."""
        from torchmetrics import MetricCollection
        from torchmetrics.classification import (
            MulticlassAccuracy,
            MulticlassConfusionMatrix,
            MulticlassF1Score,
            MulticlassPrecision,
            MulticlassRecall,
        )

        k = max(num_outputs, 2)
        metrics: dict[str, Any] = {
            "accuracy": MulticlassAccuracy(k, average="micro", validate_args=False),
            "precision": MulticlassPrecision(k, average="macro", validate_args=False),
            "recall": MulticlassRecall(k, average="macro", validate_args=False),
            "f1": MulticlassF1Score(k, average="macro", validate_args=False),
        }
        if evaluation:
            metrics["confusion_matrix"] = MulticlassConfusionMatrix(k, validate_args=False)
        # compute_groups would share state between precision/recall/f1, but its first-batch
        # probing costs more than it saves at these sizes.
        return MetricCollection(metrics, compute_groups=False)

    # ----------------------------------------------------------- predictions

    def predict(self, outputs: torch.Tensor) -> list[dict[str, Any]]:
        """``{"class_id", "score", "scores"}`` per image (scores in output order)."""
        probs = outputs.detach().float().softmax(dim=1).cpu()
        top = probs.argmax(dim=1)
        ids = self._class_ids or list(range(probs.shape[1]))
        return [
            {
                "class_id": ids[int(i)],
                "score": float(p[int(i)]),
                "scores": [round(float(v), 6) for v in p],
            }
            for i, p in zip(top, probs, strict=True)
        ]

    def evaluation_record(
        self, record: ImageRecord, prediction: Mapping[str, Any], dataset: DatasetFile
    ) -> dict[str, Any]:
        truth = record.annotations.label
        return {
            "image_id": record.id,
            "true_class_id": truth,
            "pred_class_id": prediction["class_id"],
            "score": prediction["score"],
            "correct": truth == prediction["class_id"],
        }

    def evaluator(self) -> TaskEvaluator:
        from studio.ml.eval_metrics import ClassificationEvaluator

        return ClassificationEvaluator()

    # ---------------------------------------------------------------- config

    def default_hparams(self) -> dict[str, Any]:
        return {
            "model": self.default_model,
            "augment": {"hflip": True, "random_resized_crop": True},
        }
