"""Classification metrics for evaluation reports, in plain numpy (no torch, no framework).

Contract (checked against scikit-learn in ``tests/evaluation/test_metrics.py``):

- Inputs are output indices ``0..k-1``: ``y_true``, ``y_pred`` and the confidence (the
  probability of the predicted class) of each image.
- ``accuracy`` = correct / count (0 for no images).
- Per class: precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = their harmonic
  mean; 0 where the denominator is 0 (scikit-learn's ``zero_division=0``).
- Macro averages are unweighted means over the classes that occur in ``y_true`` or in
  ``y_pred``; a class that is neither a truth nor a prediction in this subset has no
  defined precision or recall and is left out (as torchmetrics does during training, so
  the macro values of an evaluation on the validation subset match the training logs).
- Confusion matrix: rows = true class, columns = predicted class.
- Expected calibration error over ``bins`` equal-width bins ``(i/bins, (i+1)/bins]`` (a
  confidence of exactly 0 goes into the first): ``sum_b n_b / n * |acc_b - conf_b|``.

Per-task evaluation (:class:`TaskEvaluator`, returned by ``Task.evaluator()``): which records
a checkpoint can be scored on, the per-image row of ``results.json`` and the
``aggregate.json`` built from the rows. Anomaly detection and regression have theirs in
:mod:`studio.ml.eval_anomaly` and :mod:`studio.ml.eval_regression`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from studio.storage.evaluation_schemas import (
    ECE_BINS,
    MAX_TOP_K,
    CalibrationBin,
    ClassMetrics,
    EvaluationAggregate,
    ImageResult,
    MacroMetrics,
    SubsetMetrics,
    TopK,
)

if TYPE_CHECKING:
    from studio.ml.checkpoints import CheckpointMeta
    from studio.ml.data import Sample
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord


@dataclass(frozen=True)
class ClassificationMetrics:
    count: int
    correct: int
    accuracy: float
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion_matrix: list[list[int]]
    ece: float
    calibration: list[dict[str, float | int | None]] = field(default_factory=list)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` int64 counts, rows = true, columns = predicted."""
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def calibration_bins(
    confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS
) -> tuple[float, list[dict[str, float | int | None]]]:
    """``(ece, per-bin rows)``; each row has lower, upper, count, accuracy, confidence."""
    n = len(confidence)
    # bin b holds (b/bins, (b+1)/bins]: ceil(c * bins) - 1, with 0 clipped into bin 0
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    ece = 0.0
    rows: list[dict[str, float | int | None]] = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        acc = float(correct[mask].mean()) if count else None
        conf = float(confidence[mask].mean()) if count else None
        if count and acc is not None and conf is not None:
            ece += count / n * abs(acc - conf)
        rows.append(
            {"lower": b / bins, "upper": (b + 1) / bins, "count": count, "accuracy": acc,
             "confidence": conf}
        )  # fmt: skip
    return ece, rows


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], confidence: Sequence[float], k: int
) -> ClassificationMetrics:
    """Every metric of one group of images over ``k`` classes (see the module contract)."""
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    c = np.asarray(confidence, dtype=np.float64)
    if not (len(t) == len(p) == len(c)):
        raise ValueError("y_true, y_pred and confidence must have the same length")
    matrix = confusion_matrix(t, p, k)
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    support = matrix.sum(axis=1)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support.astype(np.float64))
    f1 = _safe_div(2 * precision * recall, precision + recall)
    present = (support + predicted) > 0
    correct = t == p
    ece, rows = calibration_bins(c, correct.astype(np.float64))

    def macro(values: np.ndarray) -> float:
        return float(values[present].mean()) if present.any() else 0.0

    return ClassificationMetrics(
        count=len(t),
        correct=int(correct.sum()),
        accuracy=float(correct.mean()) if len(t) else 0.0,
        precision=[float(v) for v in precision],
        recall=[float(v) for v in recall],
        f1=[float(v) for v in f1],
        support=[int(v) for v in support],
        macro_precision=macro(precision),
        macro_recall=macro(recall),
        macro_f1=macro(f1),
        confusion_matrix=matrix.tolist(),
        ece=float(ece),
        calibration=rows,
    )


# ----------------------------------------------------------------- per-task evaluators


class TaskEvaluator(Protocol):
    def usable(self, record: ImageRecord, dataset: DatasetFile, meta: CheckpointMeta) -> bool:
        """Can the checkpoint be scored on this record (it has a truth the model knows)?"""
        ...

    def row(
        self,
        sample: Sample,
        base: Mapping[str, Any],
        prediction: Mapping[str, Any],
        meta: CheckpointMeta,
    ) -> ImageResult:
        """The results.json row; ``base`` is ``task.evaluation_record(...)``."""
        ...

    def aggregate(
        self, rows: Sequence[ImageResult], meta: CheckpointMeta, checkpoint: str
    ) -> tuple[list[ImageResult], EvaluationAggregate]:
        """``(final rows, metrics over all rows and per subset)``.

        Rows may be completed here (anomaly detection fills the predicted outcome once the
        threshold is known from all the scores).
        """
        ...


def subsets_of(rows: Sequence[ImageResult]) -> list[str]:
    """The subsets present in ``rows``, in train, val, test order."""
    return [s for s in ("train", "val", "test") if any(r.subset == s for r in rows)]


def class_subset_metrics(
    subset: str, y_true: Sequence[int], y_pred: Sequence[int], confidence: Sequence[float],
    ids: Sequence[int], names: Sequence[str],
) -> SubsetMetrics:  # fmt: skip
    """:class:`SubsetMetrics` of one group; ``y_true``/``y_pred`` are output indices."""
    m = classification_metrics(y_true, y_pred, confidence, len(ids))
    return SubsetMetrics(
        subset=subset, count=m.count, correct=m.correct, accuracy=m.accuracy,
        macro=MacroMetrics(precision=m.macro_precision, recall=m.macro_recall, f1=m.macro_f1),
        per_class=[
            ClassMetrics(class_id=cid, name=names[i], precision=m.precision[i],
                         recall=m.recall[i], f1=m.f1[i], support=m.support[i])
            for i, cid in enumerate(ids)
        ],
        confusion_matrix=m.confusion_matrix, ece=m.ece,
        calibration=[CalibrationBin.model_validate(b) for b in m.calibration],
    )  # fmt: skip


class ClassificationEvaluator:
    """Classification: classes are the checkpoint's outputs (ids and names at training time)."""

    @staticmethod
    def _ids(meta: CheckpointMeta) -> list[int]:
        ids = meta.task_state.get("class_ids") or list(range(meta.num_outputs))
        return [int(i) for i in ids]

    @staticmethod
    def _names(meta: CheckpointMeta) -> list[str]:
        names = list(meta.class_names)
        return names + [str(i) for i in range(len(names), meta.num_outputs)]

    def usable(self, record: ImageRecord, dataset: DatasetFile, meta: CheckpointMeta) -> bool:
        return record.annotations.label in self._ids(meta)

    def row(
        self,
        sample: Sample,
        base: Mapping[str, Any],
        prediction: Mapping[str, Any],
        meta: CheckpointMeta,
    ) -> ImageResult:
        ids, names = self._ids(meta), self._names(meta)
        index = {cid: i for i, cid in enumerate(ids)}
        scores = [float(v) for v in prediction["scores"]]
        top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:MAX_TOP_K]
        true_id, pred_id = int(base["true_class_id"]), int(base["pred_class_id"])
        return ImageResult(
            image_id=sample.record.id,
            file_name=sample.record.original_name,
            subset=sample.subset,  # type: ignore[arg-type]
            true_class_id=true_id,
            true_class=names[index[true_id]],
            pred_class_id=pred_id,
            pred_class=names[index[pred_id]],
            confidence=min(1.0, max(0.0, float(base["score"]))),
            correct=bool(base["correct"]),
            top_k=[
                TopK(class_id=ids[i], class_name=names[i], probability=round(scores[i], 6))
                for i in top
            ],
        )

    def aggregate(
        self, rows: Sequence[ImageResult], meta: CheckpointMeta, checkpoint: str
    ) -> tuple[list[ImageResult], EvaluationAggregate]:
        ids, names = self._ids(meta), self._names(meta)
        index = {cid: i for i, cid in enumerate(ids)}

        def metrics(subset: str, group: Sequence[ImageResult]) -> SubsetMetrics:
            return class_subset_metrics(
                subset,
                [index[int(r.true_class_id or 0)] for r in group],
                [index[int(r.pred_class_id or 0)] for r in group],
                [r.confidence for r in group],
                ids,
                names,
            )

        overall = metrics("all", rows)
        aggregate = EvaluationAggregate(
            checkpoint=checkpoint,
            task="classification",
            class_ids=ids,
            class_names=names,
            overall=overall,
            subsets={s: metrics(s, [r for r in rows if r.subset == s]) for s in subsets_of(rows)},
            headline=("accuracy", overall.accuracy),
        )
        return list(rows), aggregate
