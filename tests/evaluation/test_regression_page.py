"""The Evaluation page of a regression experiment in Chromium: MAE / RMSE / MSE / R² overall
and per target, the predicted-vs-actual scatter with its y = x line, the error histogram, and
the per-image error table, worst first, sortable."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from playwright.sync_api import expect

from studio.ml.vocabulary import format_in_units, format_value
from tests.conftest import screenshot
from tests.evaluation.fixtures import Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sig(v: float) -> str:
    """The page's number format of an error in target units (the vocabulary's ``mae``)."""
    return format_value("mae", v)


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
    assert page.get_by_test_id("metric-r2").inner_text() == format_value("r2", m["r2"])
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
    counts = chart(page, "error-histogram", "c.data.datasets[0].data.map(p => p.y)")
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
    assert first.get_by_test_id("result-error").inner_text() == format_in_units(error, m["mae"])
    page.keyboard.press("Escape")
    page.get_by_test_id("theme-toggle").click()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "evaluation-regression-dark")


def nice(step: float) -> bool:
    """1, 2, 2.5 or 5 times a power of ten: the steps a reader can count in."""
    mantissa = step / 10 ** math.floor(math.log10(step))
    return any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10))


@pytest.mark.parametrize("width", [1400, 500])
def test_histogram_ticks_caption_and_detail_keys(
    logged_in_page: Any, api: Any, regression_evaluated: Template, width: int
) -> None:
    """Issue 12: round ticks under the histogram; the caption mentions the green bar only
    when it is drawn; the table shows actual and predicted values; ← → step the detail."""
    t = regression_evaluated
    m = api.get(f"/api/evaluation/{t.project_id}/{t.experiment_id}").json()["aggregate"][
        "regression"
    ]["all"]
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{page.base_url}/projects/{t.project_id}/evaluation/?experiment={t.experiment_id}")
    expect(page.get_by_test_id("error-histogram")).to_be_visible()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('[data-testid=error-histogram]'))"
    )
    ticks = chart(page, "error-histogram", "c.scales.x.ticks.map(t => t.value)")
    assert len(ticks) >= 3
    steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and nice(steps.pop())
    assert all(math.isclose(v / (ticks[1] - ticks[0]), round(v / (ticks[1] - ticks[0])),
                            abs_tol=1e-6) for v in ticks)  # fmt: skip

    # the caption matches the bars: a green bar only where the bin around 0 holds images
    bins = m["error_histogram"]
    zero = next((i for i, b in enumerate(bins) if b["lower"] <= 0 < b["upper"]), -1)
    caption = page.get_by_test_id("histogram-caption")
    if zero >= 0 and bins[zero]["count"]:
        expect(caption).to_contain_text(f"The green bar holds the {bins[zero]['count']} image")
    else:
        expect(caption).not_to_contain_text("green bar")
    component = "Alpine.$data(document.querySelector('[data-testid=evaluation-regression]'))"
    empty_zero = page.evaluate(
        f"() => {component}.histogramCaptionFor([{{lower: -1, upper: -0.2, count: 3}},"
        " {lower: -0.2, upper: 0.6, count: 0}, {lower: 0.6, upper: 1.4, count: 5}])"
    )
    assert "green" not in empty_zero and empty_zero.startswith("No image has an error near 0")
    one_side = page.evaluate(
        f"() => {component}.histogramCaptionFor([{{lower: 0.5, upper: 1, count: 3}},"
        " {lower: 1, upper: 1.5, count: 2}])"
    )
    assert "green" not in one_side and "above 0" in one_side
    screenshot(page, f"evaluation-regression-{width}")

    # the table: actual and predicted of each target; ← → in the detail, Esc closes
    rows = page.get_by_test_id("error-table").get_by_test_id("result")
    expect(rows).to_have_count(min(48, m["count"]))
    heads = page.get_by_test_id("error-table").locator("thead th").all_inner_texts()
    assert [h.strip() for h in heads[2:4]] == ["digit actual", "digit predicted"]
    names = [r.locator(".ev-file span").inner_text() for r in rows.all()[:3]]
    rows.first.click()
    expect(page.get_by_test_id("detail-name")).to_have_text(names[0])
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("detail-name")).to_have_text(names[1])
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("detail-name")).to_have_text(names[2])
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_test_id("detail-name")).to_have_text(names[1])
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("detail")).to_be_hidden()
