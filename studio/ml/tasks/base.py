"""The task contract: everything the generic training code needs to know about a task.

A new task is one module in ``studio/ml/tasks/`` with one :class:`Task` subclass, plus one
line in ``registry.TASKS``. The generic pieces (:mod:`studio.ml.data`,
:mod:`studio.ml.module`, :mod:`studio.ml.trainer`, :mod:`studio.ml.train`) only ever call
the hooks below, so detection, segmentation, anomaly detection and regression plug in
without touching them. ``docs/ml.md`` sketches each hook for those tasks.

Data flow of one run::

    records ──usable()──► fit_state(train records) ──► load_state(state)
            ──target_from_record()──► cache (uint8, cache_size()) ──train/eval_transforms()──►
            (image, target) pairs ──collate()──► batch on device ──► images as float,
            normalised (if normalize_inputs) ──forward()──► outputs
            ──compute_loss()──► loss;  metric_inputs() ──► make_metrics() collection
            predict(outputs) ──► per-image JSON ──evaluation_record()──► evaluation rows

``fit_state`` returns plain JSON-able data (class weights, target mean/std…); it is stored in
every checkpoint so inference restores the task exactly with ``load_state``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from studio.ml import augment
from studio.ml.catalog import ModelSpec, get_spec, models_for
from studio.ml.hparams import TrainingConfig, describe_fields, parse_config

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torchmetrics import MetricCollection
    from torchvision.transforms import v2

    from studio.ml.eval_metrics import TaskEvaluator
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord
    from studio.storage.evaluation_schemas import EvaluationAggregate


class Task(ABC):
    """Abstract task. Class attributes describe it; methods are the hooks.

    Attributes:
        name: registry key (``"classification"``), stored in checkpoints.
        label: human name.
        default_model: catalog key preselected in the GUI.
        monitor: metric (without the ``val_`` prefix) that picks the best checkpoint and
            drives early stopping; ``monitor_mode`` says whether higher or lower is better.
        ignored_hparams: training settings that mean nothing for this task (hidden in the GUI).
        model_returns_loss: the model computes its own loss when called with targets in
            training mode (torchvision detection models); :meth:`compute_loss` then only
            reduces the model's loss dict, and no ``val_loss`` is computed in validation.
        normalize_inputs: the generic module applies mean/std normalisation; models that
            normalise internally (torchvision detection) set this to False.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    default_model: ClassVar[str]
    monitor: ClassVar[str]
    monitor_mode: ClassVar[Literal["max", "min"]]
    model_returns_loss: ClassVar[bool] = False
    normalize_inputs: ClassVar[bool] = True
    # TrainingConfig fields this task ignores: left out of the GUI's form and of describe()
    ignored_hparams: ClassVar[frozenset[str]] = frozenset()

    # ------------------------------------------------------------------ data

    @abstractmethod
    def usable(self, record: ImageRecord, dataset: DatasetFile) -> bool:
        """Can this record be trained on (it carries the annotation this task needs)?"""

    @abstractmethod
    def num_outputs(self, dataset: DatasetFile) -> int:
        """Width of the model's output layer (classes, targets…)."""

    def output_names(self, dataset: DatasetFile) -> list[str]:
        """Human names of the outputs, in output order (stored in checkpoints)."""
        return [c.name for c in dataset.classes]

    def fit_state(
        self, train_records: Sequence[ImageRecord], dataset: DatasetFile, config: TrainingConfig
    ) -> dict[str, Any]:
        """Statistics learned from the training records before training (JSON-able).

        Classification: output order and class weights. Regression: target mean/std.
        The result is passed to :meth:`load_state` and saved in every checkpoint.
        """
        return {}

    def load_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Adopt a state from :meth:`fit_state` (at training start or from a checkpoint)."""

    @abstractmethod
    def target_from_record(self, record: ImageRecord, dataset: DatasetFile) -> Any:
        """The training target of one usable record, in original-image pixel coordinates.

        Called after :meth:`load_state`. Targets with geometry (boxes, masks) are rescaled to
        the cached image size by :meth:`scale_target`.
        """

    def scale_target(self, target: Any, sx: float, sy: float) -> Any:
        """Rescale a target from original to cached pixels (x by ``sx``, y by ``sy``).

        Identity for targets without geometry (labels, numbers).
        """
        return target

    def collate(self, batch: list[tuple[torch.Tensor, Any]]) -> tuple[Any, Any]:
        """Batch a list of ``(image, target)`` pairs. Default: stack both (PyTorch default)."""
        from torch.utils.data import default_collate

        images, targets = default_collate(batch)
        return images, targets

    def cache_size(self, config: TrainingConfig, *, train: bool) -> int:
        """Square side of cached images for the training (``train``) or evaluation subsets."""
        return augment.cache_size(config, train=train)

    def train_transforms(self, config: TrainingConfig) -> v2.Transform:
        """Random v2 transforms: ``(uint8 image, target)`` → same at ``config.image_size``."""
        cached = self.cache_size(config, train=True)
        return augment.train_transforms(config.augment, config.image_size, cached)

    def eval_transforms(self, config: TrainingConfig) -> v2.Transform:
        """Deterministic v2 transforms for validation, test and inference."""
        return augment.eval_transforms(config.image_size, self.cache_size(config, train=False))

    # ----------------------------------------------------------------- model

    def models(self) -> list[ModelSpec]:
        """Catalog entries offered for this task."""
        return models_for(self.name)

    def build_model(self, spec: ModelSpec, num_outputs: int, config: TrainingConfig) -> nn.Module:
        """A fresh model for ``spec`` with ``num_outputs`` outputs (via :mod:`studio.ml.catalog`).

        Default: the catalog backbone with its head replaced by ``num_outputs`` linear units,
        honouring ``config.pretrained`` and ``config.freeze_backbone``. Raises
        ``ValidationFailed`` when pretrained weights are not available.
        """
        from studio.ml import catalog

        return catalog.build_model(
            spec.key,
            num_outputs,
            pretrained=config.pretrained,
            freeze_backbone=config.freeze_backbone,
            task=self.name,
        )

    def forward(self, model: nn.Module, images: Any, targets: Any = None) -> Any:
        """Run the model. ``targets`` is given in training steps (detection needs it)."""
        return model(images)

    def compute_loss(self, outputs: Any, targets: Any) -> torch.Tensor:
        """Scalar loss of one batch. Default: sum of the model's loss dict."""
        if self.model_returns_loss:
            return sum(outputs.values())  # type: ignore[no-any-return]
        raise NotImplementedError(f"{type(self).__name__} must implement compute_loss")

    # --------------------------------------------------------------- metrics

    @abstractmethod
    def make_metrics(self, num_outputs: int, *, evaluation: bool = False) -> MetricCollection:
        """Fresh torchmetrics collection, keys without prefix (``"accuracy"``).

        Training logs every scalar metric as ``val_<key>`` each epoch. ``evaluation=True``
        may add non-scalar metrics (a confusion matrix) for the evaluation report.
        """

    def metric_inputs(self, outputs: Any, targets: Any) -> tuple[Any, Any]:
        """``(preds, target)`` arguments for ``MetricCollection.update``."""
        return outputs, targets

    def chance_level(self, class_counts: Sequence[int]) -> tuple[str, float] | None:
        """``(metric, value)``: what a model that learned nothing scores on a validation
        metric (key without ``val_``, higher is better), given the images per class of the
        dataset (empty for tasks without classes). None: the task has no such level.
        """
        return None

    # ----------------------------------------------------------- predictions

    @abstractmethod
    def predict(self, outputs: Any) -> list[dict[str, Any]]:
        """Per-image JSON-able predictions from one batch of eval-mode model outputs."""

    @abstractmethod
    def evaluation_record(
        self, record: ImageRecord, prediction: Mapping[str, Any], dataset: DatasetFile
    ) -> dict[str, Any]:
        """One row of an evaluation report: the record's truth next to the prediction."""

    # ------------------------------------------------------ evaluation / export

    @abstractmethod
    def evaluator(self) -> TaskEvaluator:
        """Scores a checkpoint's predictions: per-image rows and the aggregate report."""

    def export_module(self, model: nn.Module) -> nn.Module:
        """The eval-mode graph to export: ``model`` plus any output post-processing.

        Default: the model itself (raw outputs, e.g. classification logits). Anomaly detection
        appends a sigmoid (the file outputs the score); regression undoes the target z-score.
        """
        return model

    # option names an export of this task takes (others are refused with ``unknown_option``)
    export_options: ClassVar[frozenset[str]] = frozenset()

    def export_settings(
        self,
        options: Mapping[str, Any],
        evaluation: Callable[[], EvaluationAggregate | None],
    ) -> dict[str, str]:
        """Metadata an export adds for these (given, non-empty) ``options``; strings only.

        ``evaluation()`` reads the aggregate of the exported checkpoint's evaluation (or None)
        for tasks whose settings fall back on it. The task adopts the result, so that its
        :meth:`predict` agrees with the exported file. Default: no settings.
        """
        return {}

    def export_output(self, num_outputs: int) -> dict[str, str]:
        """Metadata describing the exported output: at least ``output_name`` and ``output``.

        Task state worth shipping (threshold, target mean/std) goes here too, as strings.
        """
        return {
            "output_name": "logits",
            "output": (
                f"logits: float32 (batch, {num_outputs}), one raw score per class in class_names "
                "order; softmax over axis 1 gives probabilities"
            ),
        }

    # ---------------------------------------------------- config / describe

    def default_hparams(self) -> dict[str, Any]:
        """Task-specific defaults layered over ``TrainingConfig``'s (nested for ``augment``)."""
        return {"model": self.default_model}

    def make_config(
        self, data: Mapping[str, Any] | None = None, *, cuda: bool | None = None
    ) -> TrainingConfig:
        """Validate user settings over this task's defaults; ``ValidationFailed`` if wrong."""
        config = parse_config(data, self.default_hparams(), cuda=cuda)
        self.check_config(config)
        return config

    def check_config(self, config: TrainingConfig) -> None:
        """Task-level checks of an already valid config (the model must belong to the task)."""
        get_spec(config.model, self.name)

    def describe(self) -> dict[str, Any]:
        """Plain JSON for ``GET /api/tasks/``: models, defaults with help, augmentations."""
        from studio.ml.weights import weights_status

        models = []
        for spec in self.models():
            entry = spec.to_dict()
            try:
                entry["pretrained_available"] = weights_status(spec.key).available
            except Exception:  # a describe() must never fail over a cache folder
                entry["pretrained_available"] = False
            models.append(entry)
        fields = describe_fields(self.default_hparams(), self.ignored_hparams)
        for entry in fields["hyperparameters"]:
            if entry["name"] == "model":  # a free string in the config, a choice per task
                entry["type"] = "choice"
                entry["choices"] = [spec.key for spec in self.models()]
        return {
            "name": self.name,
            "label": self.label,
            "default_model": self.default_model,
            "models": models,
            "monitor": {"metric": f"val_{self.monitor}", "mode": self.monitor_mode},
            "metrics": [f"val_{k}" for k in self.make_metrics(2)],
            **fields,
        }
