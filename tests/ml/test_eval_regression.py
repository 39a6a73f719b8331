"""Regression metrics against scikit-learn on the same outputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from studio.ml import eval_regression as er
from studio.storage.evaluation_schemas import ImageResult


@pytest.mark.parametrize("k", [1, 3])
def test_matches_sklearn(k: int) -> None:
    rng = np.random.default_rng(k)
    actual = rng.normal(50, 10, (300, k))
    predicted = actual + rng.normal(0, 3, (300, k))
    m = er.regression_metrics(actual.tolist(), predicted.tolist(), [f"t{j}" for j in range(k)])
    assert m.count == 300
    assert m.mae == pytest.approx(mean_absolute_error(actual, predicted))
    assert m.mse == pytest.approx(mean_squared_error(actual, predicted))
    assert m.r2 == pytest.approx(r2_score(actual, predicted))
    rmse = np.mean([np.sqrt(mean_squared_error(actual[:, j], predicted[:, j])) for j in range(k)])
    assert m.rmse == pytest.approx(rmse)
    for j, t in enumerate(m.per_target):
        assert t.r2 == pytest.approx(r2_score(actual[:, j], predicted[:, j]))
    assert sum(b.count for b in m.error_histogram) == 300
    errors = predicted[:, 0] - actual[:, 0]
    assert m.error_histogram[0].lower == pytest.approx(errors.min())
    assert m.error_histogram[-1].upper == pytest.approx(errors.max())
    assert len(m.scatter) == 300 and m.scatter[0] == pytest.approx((actual[0, 0], predicted[0, 0]))


def test_constant_truth_has_no_r2_and_scatter_is_capped() -> None:
    n = er.MAX_SCATTER + 500
    m = er.regression_metrics([[1.0]] * n, [[1.5]] * n, ["t"])
    assert m.r2 is None and m.mae == pytest.approx(0.5)
    assert len(m.scatter) == er.MAX_SCATTER
    assert sum(b.count for b in m.error_histogram) == n


def test_rows_and_aggregate() -> None:
    class Meta:
        class_names = ["brightness"]
        num_outputs = 1

    rows = [
        ImageResult(
            image_id=str(i),
            file_name=f"{i}.png",
            subset=s,  # type: ignore[arg-type]
            targets=[a],
            predictions=[p],
            error=abs(p - a),
        )
        for i, (s, a, p) in enumerate([("val", 1.0, 2.0), ("test", 3.0, 3.5), ("test", 5.0, 4.0)])
    ]
    done, agg = er.RegressionEvaluator().aggregate(rows, Meta(), "best.ckpt")  # type: ignore[arg-type]
    assert done == rows and agg.task == "regression" and agg.target_names == ["brightness"]
    assert set(agg.regression) == {"all", "val", "test"}
    assert agg.regression["test"].mae == pytest.approx(0.75)
    assert agg.headline == ("mae", pytest.approx((1 + 0.5 + 1) / 3))
