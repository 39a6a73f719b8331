"""The Evaluation page of a regression experiment in Chromium: MAE / RMSE / MSE / R² overall
and per target, the predicted-vs-actual scatter with its y = x line, the error histogram, and
the per-image error table, worst first, sortable."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conftest import screenshot
from tests.evaluation.fixtures import Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sig(v: float) -> str:
    """The page's number format: three significant digits, trailing zeros kept."""
    decimals = min(8, max(0, 2 - math.floor(math.log10(abs(v))))) if v else 0
    return f"{v:.{decimals}f}"


def places(mae: float) -> int:
    """The decimals of a table column: ~1/100 of the typical error."""
    return min(6, max(0, 2 - math.floor(math.log10(mae))))


def chart(page: Any, testid: str, script: str) -> Any:
    return page.evaluate(
        f"() => {{ const c = Chart.getChart(document.querySelector('[data-testid={testid}]'));"
        f" return {script}; }}"
    )


def errors(page: Any) -> list[float]:
    rows = page.get_by_test_id("error-table").get_by_test_id("result")
    return [float(r.get_attribute("data-error")) for r in rows.all()]


def wait_sorted(page: Any, descending: bool) -> None:
    page.wait_for_function(
        "desc => { const t = document.querySelector('[data-testid=error-table]');"
        " const e = [...t.querySelectorAll('[data-testid=result]')].map(r => +r.dataset.error);"
        " return !t.classList.contains('loading') && e.length > 1"
        " && e.every((v, i) => !i || (desc ? e[i - 1] >= v : e[i - 1] <= v)) }",
        arg=descending,
    )


def test_scatter_histogram_and_error_table(
    logged_in_page: Any, api: Any, regression_evaluated: Template
) -> None:
    t = regression_evaluated
    status = api.get(f"/api/evaluation/{t.project_id}/{t.experiment_id}").json()
    agg = status["aggregate"]
    m = agg["regression"]["all"]
    assert agg["target_names"] == ["digit", "ink"] and status["headline"] == "mae"
    page = logged_in_page
    page.goto(f"{page.base_url}/projects/{t.project_id}/evaluation/")
    assert page.get_by_test_id("item-eval").inner_text() == f"evaluated: MAE {sig(m['mae'])}"

    # overall and per-target numbers
    page.get_by_test_id("scatter-chart").wait_for()
    assert page.get_by_test_id("metric-count").inner_text() == str(m["count"])
    assert page.get_by_test_id("metric-mae").inner_text() == sig(m["mae"])
    assert page.get_by_test_id("metric-rmse").inner_text() == sig(m["rmse"])
    assert page.get_by_test_id("metric-r2").inner_text() == f"{m['r2']:.3f}"
    targets = page.get_by_test_id("target-table").locator("tbody tr")
    assert [r.locator("td").first.inner_text() for r in targets.all()] == ["digit", "ink"]
    assert targets.first.locator("td").nth(1).inner_text() == sig(m["per_target"][0]["mae"])
    assert f"MAE {sig(m['mae'])}" in page.get_by_test_id("evaluation-summary").inner_text()

    # the scatter (one point per image, actual vs predicted) with the y = x line
    assert chart(page, "scatter-chart", "c.config.type") == "scatter"
    points = chart(page, "scatter-chart", "c.data.datasets[0].data.map(p => [p.x, p.y])")
    assert points == [pytest.approx(list(p)) for p in m["scatter"]] and len(points) == m["count"]
    line = chart(page, "scatter-chart", "c.data.datasets[1].data")
    assert len(line) == 2 and all(p["x"] == p["y"] for p in line)
    scales = chart(
        page, "scatter-chart", "[c.scales.x.min, c.scales.x.max, c.scales.y.min, c.scales.y.max]"
    )
    assert scales[0] == scales[2] and scales[1] == scales[3]  # same axes: y = x is the diagonal
    # the histogram of signed errors
    counts = chart(page, "error-histogram", "c.data.datasets[0].data")
    assert counts == [b["count"] for b in m["error_histogram"]] and sum(counts) == m["count"]

    # the table: worst first by default, one row per image, both targets
    table = page.get_by_test_id("error-table")
    wait_sorted(page, descending=True)
    shown = errors(page)
    assert len(shown) == min(48, m["count"])
    assert shown[0] == pytest.approx(max(r["error"] for r in api.get(
        f"/api/evaluation/{t.project_id}/{t.experiment_id}/results", {"page_size": 200}
    ).json()["results"]))  # fmt: skip
    assert page.get_by_test_id("sort-error").inner_text().endswith("▼")
    heads = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert heads[2:6] == ["digit actual", "digit predicted", "ink actual", "ink predicted"]
    screenshot(page, "evaluation-regression")

    page.get_by_test_id("sort-error").click()
    wait_sorted(page, descending=False)
    assert page.get_by_test_id("sort").input_value() == "error"
    page.get_by_test_id("sort-error").click()
    wait_sorted(page, descending=True)

    # a subset tab shows that subset's numbers and charts
    page.get_by_test_id("tab-test").click()
    test = agg["regression"]["test"]
    assert page.get_by_test_id("metric-mae").inner_text() == sig(test["mae"])
    assert chart(page, "scatter-chart", "c.data.datasets[0].data.length") == test["count"]

    # one image: actual and predicted of each target
    first = table.get_by_test_id("result").first
    first.click()
    detail = page.get_by_test_id("detail")
    detail.wait_for()
    assert detail.get_by_test_id("detail-targets").locator("tbody tr").count() == 2
    assert detail.get_by_test_id("detail-error").inner_text() == (
        first.get_by_test_id("result-error").inner_text()
    )
    error = float(first.get_attribute("data-error"))
    assert first.get_by_test_id("result-error").inner_text() == f"{error:.{places(m['mae'])}f}"
    page.keyboard.press("Escape")
    page.get_by_test_id("theme-toggle").click()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "evaluation-regression-dark")
