"""Anomaly-detection metrics and evaluator, in plain numpy (checked against scikit-learn).

Contract (``tests/ml/test_eval_anomaly.py``):

- Inputs: ``labels`` (1 = anomalous, the positive outcome; 0 = good) and ``scores`` (the
  model's anomaly score, higher = more anomalous).
- :func:`roc_curve` and :func:`average_precision` follow scikit-learn's ``roc_curve``
  (without dropping intermediate points; the first point is ``(0, 0)`` at threshold
  ``+inf``, stored as the largest score + 1) and ``average_precision_score``
  (``sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds).
- AUROC is the trapezoid area under that curve; ``None`` when only one outcome occurs.
- An image is predicted anomalous when ``score >= threshold``.
- Youden's J threshold maximises ``TPR - FPR``; the best-F1 threshold maximises F1 (ties:
  the higher threshold, fewer false alarms). Both are scores that occur in the data.
- The evaluation's threshold is the best-F1 threshold of the ``val`` images when they were
  evaluated (an honest choice: not tuned on the images it is reported on), otherwise of all
  evaluated images (optimistic; the page says so), otherwise 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.ml.eval_metrics import class_subset_metrics, subsets_of
from studio.storage.evaluation_schemas import (
    AnomalyMetrics,
    EvaluationAggregate,
    ImageResult,
    RocPoint,
)

if TYPE_CHECKING:
    from studio.ml.checkpoints import CheckpointMeta
    from studio.ml.data import Sample
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord

# plain sequences or numpy arrays (the evaluator passes lists, tests pass arrays)
Labels = Sequence[int] | np.ndarray
Scores = Sequence[float] | np.ndarray
OUTCOMES = ("good", "anomalous")
DEFAULT_THRESHOLD = 0.5
MAX_ROC_POINTS = 200


def _counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(thresholds descending, tp, fp)`` at each distinct score (predict ``score >= t``)."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[np.where(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return s[last], tp.astype(np.float64), fp.astype(np.float64)


def roc_curve(labels: Labels, scores: Scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` like ``sklearn.metrics.roc_curve(drop_intermediate=False)``."""
    y, s = np.asarray(labels, np.int64), np.asarray(scores, np.float64)
    thresholds, tp, fp = _counts(y, s)
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    tpr = np.r_[0.0, tp / pos if pos else np.zeros_like(tp)]
    fpr = np.r_[0.0, fp / neg if neg else np.zeros_like(fp)]
    top = thresholds[0] + 1 if len(thresholds) else 1.0
    return fpr, tpr, np.r_[top, thresholds]


def auroc(labels: Labels, scores: Scores) -> float | None:
    y = np.asarray(labels, np.int64)
    if len(y) == 0 or y.min() == y.max():
        return None
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.trapezoid(tpr, fpr))


def average_precision(labels: Labels, scores: Scores) -> float | None:
    y, s = np.asarray(labels, np.int64), np.asarray(scores, np.float64)
    if not y.sum():
        return None
    _, tp, fp = _counts(y, s)
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def binary_scores(labels: Labels, scores: Scores, threshold: float) -> tuple[float, float, float]:
    """``(precision, recall, f1)`` of "anomalous" at ``threshold`` (0 where undefined)."""
    y = np.asarray(labels, np.int64).astype(bool)
    p = np.asarray(scores, np.float64) >= threshold
    tp = float((y & p).sum())
    precision = tp / p.sum() if p.sum() else 0.0
    recall = tp / y.sum() if y.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def best_thresholds(labels: Labels, scores: Scores) -> tuple[float | None, float | None]:
    """``(youden, best_f1)`` thresholds, or ``(None, None)`` when one outcome is missing."""
    y, s = np.asarray(labels, np.int64), np.asarray(scores, np.float64)
    if len(y) == 0 or y.min() == y.max():
        return None, None
    thresholds, tp, fp = _counts(y, s)
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    youden = thresholds[int(np.argmax(tp / pos - fp / neg))]
    f1 = 2 * tp / (2 * tp + fp + (pos - tp))
    best = thresholds[int(np.argmax(f1))]  # argmax takes the first = highest threshold on ties
    return float(youden), float(best)


def _roc_points(labels: Labels, scores: Scores) -> list[RocPoint]:
    fpr, tpr, thr = roc_curve(labels, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), MAX_ROC_POINTS)).astype(int))
    return [RocPoint(fpr=float(fpr[i]), tpr=float(tpr[i]), threshold=float(thr[i])) for i in keep]


def anomaly_metrics(labels: Labels, scores: Scores, threshold: float) -> AnomalyMetrics:
    youden, best_f1 = best_thresholds(labels, scores)
    precision, recall, f1 = binary_scores(labels, scores, threshold)
    return AnomalyMetrics(
        count=len(labels),
        anomalous=int(sum(labels)),
        auroc=auroc(labels, scores),
        average_precision=average_precision(labels, scores),
        threshold=threshold,
        f1=f1,
        precision=precision,
        recall=recall,
        youden_threshold=youden,
        best_f1_threshold=best_f1,
        roc=_roc_points(labels, scores) if len(set(labels)) == 2 else [],
        scores=[round(float(v), 6) for v in scores],
        labels=[int(v) for v in labels],
    )


def choose_threshold(rows: Sequence[ImageResult]) -> tuple[float, str]:
    """``(threshold, where it was chosen)``: best F1 on val, else on all rows, else 0.5."""
    for source, group in (("val", [r for r in rows if r.subset == "val"]), ("all", rows)):
        _, best = best_thresholds(
            [int(r.true_class_id or 0) for r in group], [float(r.score or 0) for r in group]
        )
        if best is not None:
            return best, source
    return DEFAULT_THRESHOLD, "default"


class AnomalyEvaluator:
    """Rows carry the score; the outcome at the chosen threshold is filled in ``aggregate``."""

    def usable(self, record: ImageRecord, dataset: DatasetFile, meta: CheckpointMeta) -> bool:
        return record.annotations.label is not None

    def row(
        self,
        sample: Sample,
        base: Mapping[str, Any],
        prediction: Mapping[str, Any],
        meta: CheckpointMeta,
    ) -> ImageResult:
        truth = int(base["anomalous"])
        return ImageResult(
            image_id=sample.record.id,
            file_name=sample.record.original_name,
            subset=sample.subset,  # type: ignore[arg-type]
            true_class_id=truth,
            true_class=OUTCOMES[truth],
            score=float(base["score"]),
        )

    def aggregate(
        self, rows: Sequence[ImageResult], meta: CheckpointMeta, checkpoint: str
    ) -> tuple[list[ImageResult], EvaluationAggregate]:
        threshold, source = choose_threshold(rows)
        done: list[ImageResult] = []
        for r in rows:
            score = float(r.score or 0.0)
            pred = int(score >= threshold)
            done.append(
                r.model_copy(
                    update={
                        "pred_class_id": pred,
                        "pred_class": OUTCOMES[pred],
                        "confidence": min(1.0, max(0.0, score if pred else 1.0 - score)),
                        "correct": pred == r.true_class_id,
                    }
                )
            )

        def group_of(subset: str) -> list[ImageResult]:
            return done if subset == "all" else [r for r in done if r.subset == subset]

        names = [*OUTCOMES]
        keys = ["all", *subsets_of(done)]
        classes = {
            k: class_subset_metrics(
                k,
                [int(r.true_class_id or 0) for r in group_of(k)],
                [int(r.pred_class_id or 0) for r in group_of(k)],
                [r.confidence for r in group_of(k)],
                [0, 1],
                names,
            )
            for k in keys
        }
        anomaly = {
            k: anomaly_metrics(
                [int(r.true_class_id or 0) for r in group_of(k)],
                [float(r.score or 0) for r in group_of(k)],
                threshold,
            )
            for k in keys
        }
        aggregate = EvaluationAggregate(
            checkpoint=checkpoint,
            task="anomaly_detection",
            class_ids=[0, 1],
            class_names=names,
            overall=classes["all"],
            subsets={k: v for k, v in classes.items() if k != "all"},
            anomaly=anomaly,
            threshold_source=source,
            headline=("auroc", anomaly["all"].auroc),
        )
        return done, aggregate
