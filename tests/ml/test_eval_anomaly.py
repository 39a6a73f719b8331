"""Anomaly metrics against scikit-learn on the same scores, and the evaluator's threshold rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score, roc_curve

from studio.ml import eval_anomaly as ea
from studio.storage.evaluation_schemas import ImageResult


def _data(seed: int, n: int = 200, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    s = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    if ties:
        s = np.round(s, 1)  # many equal scores: thresholds must group them
    return y, s


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn(seed: int, ties: bool) -> None:
    y, s = _data(seed, ties=ties)
    assert ea.auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert ea.average_precision(y, s) == pytest.approx(average_precision_score(y, s))
    fpr, tpr, thr = ea.roc_curve(y, s)
    ref_fpr, ref_tpr, ref_thr = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    np.testing.assert_allclose(thr[1:], ref_thr[1:])  # sklearn 1.3+ puts inf first
    for t in (0.2, 0.5, float(np.median(s))):
        _, _, f1 = ea.binary_scores(y, s, t)
        assert f1 == pytest.approx(f1_score(y, (s >= t).astype(int), zero_division=0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.floats(0, 1, allow_nan=False)), min_size=2, max_size=40
    )
)
def test_best_thresholds_are_optimal(pairs: list[tuple[int, float]]) -> None:
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs])
    youden, best = ea.best_thresholds(y, s)
    if y.min() == y.max():
        assert youden is None and best is None
        return
    assert youden in s and best in s
    f1s = {t: f1_score(y, (s >= t).astype(int), zero_division=0) for t in set(s)}
    assert f1_score(y, (s >= best).astype(int), zero_division=0) == pytest.approx(max(f1s.values()))
    j = {t: ((s >= t) & (y == 1)).sum() / y.sum() - ((s >= t) & (y == 0)).sum() / (y == 0).sum()
         for t in set(s)}  # fmt: skip
    assert j[youden] == pytest.approx(max(j.values()))


def test_one_outcome_has_no_auroc() -> None:
    assert ea.auroc([0, 0, 0], [0.1, 0.2, 0.3]) is None
    assert ea.average_precision([0, 0], [0.1, 0.9]) is None
    m = ea.anomaly_metrics([0, 0], [0.1, 0.9], 0.5)
    assert m.auroc is None and m.roc == [] and m.f1 == 0.0


def _row(subset: str, truth: int, score: float) -> ImageResult:
    return ImageResult(image_id=f"{subset}{truth}{score}", file_name="x.png", subset=subset,  # type: ignore[arg-type]
                       true_class_id=truth, true_class=ea.OUTCOMES[truth], score=score)  # fmt: skip


def test_threshold_is_chosen_on_val_and_fills_the_rows() -> None:
    rows = [_row("val", 0, 0.1), _row("val", 1, 0.4), _row("test", 0, 0.3), _row("test", 1, 0.9)]
    threshold, source = ea.choose_threshold(rows)
    assert (threshold, source) == (0.4, "val")
    done, agg = ea.AnomalyEvaluator().aggregate(rows, None, "best.ckpt")  # type: ignore[arg-type]
    assert [r.pred_class for r in done] == ["good", "anomalous", "good", "anomalous"]
    assert all(r.correct for r in done)
    assert agg.threshold_source == "val" and agg.anomaly["all"].threshold == 0.4
    assert agg.headline == ("auroc", 1.0)
    assert agg.overall is not None and agg.overall.confusion_matrix == [[2, 0], [0, 2]]
    assert set(agg.anomaly) == {"all", "val", "test"}
    # no val rows: chosen on all evaluated images (the page calls that optimistic)
    assert ea.choose_threshold(rows[2:]) == (0.9, "all")
    assert ea.choose_threshold([_row("test", 0, 0.3)]) == (0.5, "default")
