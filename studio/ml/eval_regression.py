"""Regression metrics and evaluator, in plain numpy (checked against scikit-learn).

Contract (``tests/ml/test_eval_regression.py``), all in original target units:

- Per target: MAE, MSE, RMSE = sqrt(MSE), R² = 1 - SS_res / SS_tot (scikit-learn's
  ``r2_score``); R² is ``None`` when the true values of that target have no variance.
- The top-level values average the targets uniformly (scikit-learn's
  ``multioutput="uniform_average"``); R² averages the targets where it is defined.
- A row's ``error`` is its mean absolute error over the targets (the sort key of the
  per-image table, worst first).
- The error histogram has ``HIST_BINS`` equal-width bins of the signed error
  (predicted - actual) of the first target; the scatter holds (actual, predicted) of the first
  target for at most ``MAX_SCATTER`` images (evenly spaced over the evaluation order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.ml.eval_metrics import subsets_of
from studio.storage.evaluation_schemas import (
    EvaluationAggregate,
    HistogramBin,
    ImageResult,
    RegressionMetrics,
    TargetMetrics,
)

if TYPE_CHECKING:
    from studio.ml.checkpoints import CheckpointMeta
    from studio.ml.data import Sample
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord

HIST_BINS = 20
MAX_SCATTER = 2000


def target_metrics(actual: np.ndarray, predicted: np.ndarray, name: str) -> TargetMetrics:
    err = predicted - actual
    mse = float(np.mean(err**2)) if len(err) else 0.0
    ss_tot = float(np.sum((actual - actual.mean()) ** 2)) if len(actual) else 0.0
    r2 = 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else None
    return TargetMetrics(
        name=name,
        mae=float(np.mean(np.abs(err))) if len(err) else 0.0,
        mse=mse,
        rmse=float(np.sqrt(mse)),
        r2=r2,
    )


def histogram(values: np.ndarray, bins: int = HIST_BINS) -> list[HistogramBin]:
    if not len(values):
        return []
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    return [
        HistogramBin(lower=float(edges[i]), upper=float(edges[i + 1]), count=int(c))
        for i, c in enumerate(counts)
    ]


def regression_metrics(
    actual: Sequence[Sequence[float]], predicted: Sequence[Sequence[float]], names: Sequence[str]
) -> RegressionMetrics:
    """Metrics of ``n`` images by ``k`` targets (see the module contract)."""
    a = np.asarray(actual, np.float64).reshape(len(actual), len(names))
    p = np.asarray(predicted, np.float64).reshape(len(predicted), len(names))
    per = [target_metrics(a[:, j], p[:, j], name) for j, name in enumerate(names)]
    r2s = [m.r2 for m in per if m.r2 is not None]
    keep = np.unique(np.linspace(0, len(a) - 1, min(len(a), MAX_SCATTER)).astype(int))
    return RegressionMetrics(
        count=len(a),
        mae=float(np.mean([m.mae for m in per])),
        mse=float(np.mean([m.mse for m in per])),
        rmse=float(np.mean([m.rmse for m in per])),
        r2=float(np.mean(r2s)) if r2s else None,
        per_target=per,
        error_histogram=histogram(p[:, 0] - a[:, 0]) if len(a) else [],
        scatter=[(float(a[i, 0]), float(p[i, 0])) for i in keep] if len(a) else [],
    )


class RegressionEvaluator:
    """Targets and predictions in original units; names from the checkpoint's outputs."""

    @staticmethod
    def _names(meta: CheckpointMeta) -> list[str]:
        names = list(meta.class_names)  # regression checkpoints store target names here
        return names + [f"target_{i + 1}" for i in range(len(names), meta.num_outputs)]

    def usable(self, record: ImageRecord, dataset: DatasetFile, meta: CheckpointMeta) -> bool:
        target = record.annotations.target
        return target is not None and len(target) == meta.num_outputs

    def row(
        self,
        sample: Sample,
        base: Mapping[str, Any],
        prediction: Mapping[str, Any],
        meta: CheckpointMeta,
    ) -> ImageResult:
        targets = [float(v) for v in base["targets"]]
        predictions = [float(v) for v in base["predictions"]]
        error = float(np.mean(np.abs(np.subtract(predictions, targets))))
        return ImageResult(
            image_id=sample.record.id,
            file_name=sample.record.original_name,
            subset=sample.subset,  # type: ignore[arg-type]
            targets=targets,
            predictions=predictions,
            error=error,
        )

    def aggregate(
        self, rows: Sequence[ImageResult], meta: CheckpointMeta, checkpoint: str
    ) -> tuple[list[ImageResult], EvaluationAggregate]:
        names = self._names(meta)

        def metrics(group: Sequence[ImageResult]) -> RegressionMetrics:
            return regression_metrics(
                [r.targets or [] for r in group], [r.predictions or [] for r in group], names
            )

        by_subset = {"all": metrics(rows)}
        by_subset.update({s: metrics([r for r in rows if r.subset == s]) for s in subsets_of(rows)})
        aggregate = EvaluationAggregate(
            checkpoint=checkpoint,
            task="regression",
            target_names=names,
            regression=by_subset,
            headline=("mae", by_subset["all"].mae),
        )
        return list(rows), aggregate
