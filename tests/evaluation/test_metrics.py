"""Evaluation metrics against an independent computation (scikit-learn, a plain-loop ECE),
and the evaluator core on a real checkpoint (matches what training measured)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from studio.ml import evaluate as core
from studio.ml import evaluation_files
from studio.ml.eval_metrics import classification_metrics
from studio.storage.evaluation_schemas import EvaluationAggregate, ImageResult, SubsetMetrics
from studio.storage.paths import Workspace
from tests.evaluation.fixtures import Template


def loop_ece(conf: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE written the slow, obvious way: (lo, hi] bins, 0 counted in the first."""
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(conf) if (lo < c <= hi) or (b == 0 and c == 0)]
        if members:
            acc = float(np.mean([correct[i] for i in members]))
            avg = float(np.mean([conf[i] for i in members]))
            total += len(members) / len(conf) * abs(acc - avg)
    return total


def check_against_sklearn(m: SubsetMetrics | object, t: list[int], p: list[int], k: int) -> None:
    labels = sorted(set(t) | set(p))  # classes that occur: the macro contract
    prec, rec, f1, _ = precision_recall_fscore_support(
        t, p, labels=labels, average="macro", zero_division=0
    )
    per_p, per_r, per_f, support = precision_recall_fscore_support(
        t, p, labels=list(range(k)), average=None, zero_division=0
    )
    cm = confusion_matrix(t, p, labels=list(range(k)))
    if isinstance(m, SubsetMetrics):
        assert m.accuracy == pytest.approx(accuracy_score(t, p))
        assert (m.macro.precision, m.macro.recall, m.macro.f1) == pytest.approx((prec, rec, f1))
        assert [c.precision for c in m.per_class] == pytest.approx(list(per_p))
        assert [c.recall for c in m.per_class] == pytest.approx(list(per_r))
        assert [c.f1 for c in m.per_class] == pytest.approx(list(per_f))
        assert [c.support for c in m.per_class] == list(support)
        assert m.confusion_matrix == cm.tolist()
    else:
        assert m.accuracy == pytest.approx(accuracy_score(t, p))  # type: ignore[attr-defined]
        assert (m.macro_precision, m.macro_recall, m.macro_f1) == pytest.approx((prec, rec, f1))  # type: ignore[attr-defined]
        assert m.precision == pytest.approx(list(per_p))  # type: ignore[attr-defined]
        assert m.recall == pytest.approx(list(per_r))  # type: ignore[attr-defined]
        assert m.f1 == pytest.approx(list(per_f))  # type: ignore[attr-defined]
        assert m.support == list(support)  # type: ignore[attr-defined]
        assert m.confusion_matrix == cm.tolist()  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(6))
def test_metrics_match_sklearn_on_random_predictions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    n = int(rng.integers(1, 300))
    t = rng.integers(0, k, n).tolist()
    # some classes never predicted, some predictions right more often than chance
    p = [x if rng.random() < 0.5 else int(rng.integers(0, max(1, k - 2))) for x in t]
    conf = rng.random(n)
    conf[:3] = [0.0, 1.0, 1 / 15][: min(3, n)]  # bin edges
    m = classification_metrics(t, p, conf.tolist(), k)
    check_against_sklearn(m, t, p, k)
    assert m.ece == pytest.approx(loop_ece(conf, np.array(t) == np.array(p)))
    assert sum(int(b["count"] or 0) for b in m.calibration) == n and len(m.calibration) == 15


def test_edge_cases() -> None:
    empty = classification_metrics([], [], [], 3)
    assert empty.count == 0 and empty.accuracy == 0 and empty.ece == 0 and empty.macro_f1 == 0
    perfect = classification_metrics([0, 1, 2], [0, 1, 2], [1.0, 1.0, 1.0], 4)
    assert perfect.accuracy == 1 and perfect.macro_f1 == 1 and perfect.ece == 0  # class 3 absent
    with pytest.raises(ValueError):
        classification_metrics([0], [0, 1], [0.5], 2)


def _index(rows: list[ImageResult], agg: EvaluationAggregate) -> tuple[list[int], list[int]]:
    pos = {cid: i for i, cid in enumerate(agg.class_ids)}
    return [pos[r.true_class_id or 0] for r in rows], [pos[r.pred_class_id or 0] for r in rows]


def test_real_evaluation_aggregate_matches_sklearn(
    workspace: Workspace, evaluated: Template
) -> None:
    paths = evaluation_files.evaluation_paths(
        workspace, evaluated.project_id, evaluated.experiment_id
    )
    rows, agg = evaluation_files.read_results(paths).results, evaluation_files.read_aggregate(paths)
    k = len(agg.class_ids)
    assert agg.class_names == [
        "eight",
        "five",
        "four",
        "nine",
        "one",
        "seven",
        "six",
        "three",
        "two",
        "zero",
    ]
    assert set(agg.subsets) == {"val", "test"}
    assert {r.subset for r in rows} == {"val", "test"}
    assert agg.overall is not None and agg.task == "classification"
    assert all(r.true_class_id is not None and r.pred_class_id is not None for r in rows)
    t, p = _index(rows, agg)
    check_against_sklearn(agg.overall, t, p, k)
    conf = np.array([r.confidence for r in rows])
    assert agg.overall.ece == pytest.approx(loop_ece(conf, np.array(t) == np.array(p)))
    for name, metrics in agg.subsets.items():
        group = [r for r in rows if r.subset == name]
        assert metrics.count == len(group) > 0
        check_against_sklearn(metrics, *_index(group, agg), k)
    assert 0 < agg.overall.correct < agg.overall.count  # the fixture model is right and wrong


def test_evaluating_best_on_val_reproduces_training(
    workspace: Workspace, trained: Template
) -> None:
    """Same preprocessing as training: best.ckpt on val gives the val_accuracy it was saved for."""
    config = core.make_config(checkpoint="best.ckpt", subsets=["val"], batch_size=7)
    plan = core.plan_evaluation(workspace, trained.project_id, trained.experiment_id, config)
    model, meta = core.load_checkpoint(plan.checkpoint)
    samples, dataset, skipped = core.collect_samples(
        workspace, plan, core.evaluator_for(meta.task), meta
    )
    seen: list[tuple[int, int]] = []
    results, agg = core.run_evaluation(
        model, meta, samples, dataset, checkpoint_name="best.ckpt", batch_size=7,
        on_progress=lambda d, n: seen.append((d, n)),
    )  # fmt: skip
    assert skipped == 0 and len(results.results) == plan.subset_sizes["val"] == len(samples)
    assert agg.overall is not None and agg.headline == ("accuracy", agg.overall.accuracy)
    assert agg.overall.accuracy == pytest.approx(trained.best_value, abs=1e-6)
    assert agg.overall.accuracy == pytest.approx(meta.metrics["val_accuracy"], abs=1e-6)
    assert agg.overall.macro.f1 == pytest.approx(meta.metrics["val_f1"], abs=1e-5)
    assert seen[-1] == (len(samples), len(samples)) and len(seen) == -(-len(samples) // 7)
    row = results.results[0]
    assert row.file_name.endswith(".png") and row.subset == "val"
    assert len(row.top_k) == 5 and row.top_k[0].class_id == row.pred_class_id
    assert [t.probability for t in row.top_k] == sorted(
        (t.probability for t in row.top_k), reverse=True
    )
    assert row.confidence == pytest.approx(row.top_k[0].probability, abs=1e-6)
    assert row.correct == (row.true_class_id == row.pred_class_id)


def test_cancel_stops_between_batches(workspace: Workspace, trained: Template) -> None:
    config = core.make_config(checkpoint="last.ckpt", subsets=["test"], batch_size=4)
    plan = core.plan_evaluation(workspace, trained.project_id, trained.experiment_id, config)
    model, meta = core.load_checkpoint(plan.checkpoint)
    samples, dataset, _ = core.collect_samples(workspace, plan, core.evaluator_for(meta.task), meta)
    calls = [0]

    def stop() -> bool:
        calls[0] += 1
        return calls[0] > 2

    with pytest.raises(core.EvaluationCancelled):
        core.run_evaluation(model, meta, samples, dataset, checkpoint_name="last.ckpt",
                            batch_size=4, should_stop=stop)  # fmt: skip
