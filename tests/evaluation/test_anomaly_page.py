"""The Evaluation page of an anomaly-detection experiment in Chromium: AUROC and the ROC
curve, the threshold chosen (and where), and the slider that recomputes the confusion matrix
and F1 in the browser; the image grid follows the slider's threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from studio.ml.vocabulary import format_value
from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.evaluation.fixtures import Template, install
from tests.evaluation.task_fixtures import evaluate_task_template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def at(scores: list[float], labels: list[int], t: float) -> dict[str, Any]:
    """The confusion counts and F1 of "anomalous when score >= t" (as the page computes)."""
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= t and y)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= t and not y)
    fn = sum(labels) - tp
    tn = len(labels) - sum(labels) - fp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"cells": [tn, fp, fn, tp], "f1": f1}


def cells(page: Any) -> list[int]:
    return [
        int(page.get_by_test_id(f"cell-{i}-{j}").get_attribute("data-count"))
        for i in (0, 1)
        for j in (0, 1)
    ]


def operating_point(page: Any) -> dict[str, float]:
    return page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-testid=roc-chart]'))"
        ".data.datasets[2].data[0]"
    )


def test_roc_threshold_slider_and_grid(
    logged_in_page: Any, api: Any, anomaly_evaluated: Template
) -> None:
    t = anomaly_evaluated
    status = api.get(f"/api/evaluation/{t.project_id}/{t.experiment_id}").json()
    agg = status["aggregate"]
    assert (
        status["headline"] == "auroc" and status["headline_value"] == agg["anomaly"]["all"]["auroc"]
    )
    m = agg["anomaly"]["all"]
    scores, labels = m["scores"], m["labels"]
    page = logged_in_page
    page.goto(f"{page.base_url}/projects/{t.project_id}/evaluation/")
    item = page.get_by_test_id("item-eval")
    assert item.inner_text() == f"evaluated: AUROC {format_value('auroc', m['auroc'])}"

    # threshold-free numbers and the ROC curve
    page.get_by_test_id("roc-chart").wait_for()
    assert page.get_by_test_id("metric-auroc").inner_text() == format_value("auroc", m["auroc"])
    assert page.get_by_test_id("metric-ap").inner_text() == format_value(
        "average_precision", m["average_precision"]
    )
    assert page.get_by_test_id("metric-anomalous").inner_text() == str(m["anomalous"])
    points = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-testid=roc-chart]'))"
        ".data.datasets[0].data.length"
    )
    assert points == len(m["roc"]) > 2
    summary = page.get_by_test_id("evaluation-summary").inner_text()
    assert (
        f"AUROC {format_value('auroc', m['auroc'])}" in summary
        and f"({m['anomalous']} anomalous)" in summary
    )

    # the evaluation's threshold, where it was chosen, and the matrix + F1 at it
    assert page.get_by_test_id("threshold-value").inner_text() == format_value(
        "threshold", m["threshold"]
    )
    source = page.get_by_test_id("threshold-source").inner_text()
    assert agg["threshold_source"] == "val" and "validation images" in source
    expect(page.get_by_test_id("threshold-moved")).to_be_hidden()
    expected = at(scores, labels, m["threshold"])
    assert (
        cells(page)
        == expected["cells"]
        == [n for row in agg["overall"]["confusion_matrix"] for n in row]
    )
    assert page.get_by_test_id("metric-f1").inner_text() == format_value("f1", expected["f1"])
    expect(page.get_by_test_id("use-best-f1")).to_be_visible()
    assert (
        format_value("threshold", m["youden_threshold"])
        in page.get_by_test_id("use-youden").inner_text()
    )
    page.get_by_test_id("results-grid").get_by_test_id("result").first.wait_for()
    for tile in page.get_by_test_id("results-grid").get_by_test_id("result").all()[:4]:
        # each tile names the truth and the verdict at the threshold (issue 12)
        expect(tile.get_by_test_id("tile-true")).to_have_text(
            f"true {tile.get_attribute('data-true')}"
        )
        expect(tile.get_by_test_id("tile-pred")).to_have_text(
            f"pred {tile.get_attribute('data-verdict')}"
        )
    screenshot(page, "evaluation-anomaly")

    # the slider: lowest threshold = every image flagged, then one step up
    slider = page.get_by_test_id("threshold-slider")
    slider.focus()
    page.keyboard.press("Home")
    lowest = min(scores)
    assert page.get_by_test_id("threshold-value").inner_text() == format_value("threshold", lowest)
    everything = at(scores, labels, lowest)
    assert everything["cells"] == [0, len(labels) - sum(labels), 0, sum(labels)]
    assert cells(page) == everything["cells"]
    assert page.get_by_test_id("metric-f1").inner_text() == format_value("f1", everything["f1"])
    assert (
        "F1 " + format_value("f1", everything["f1"]) in page.get_by_test_id("live-f1").inner_text()
    )
    assert operating_point(page) == {"x": 1, "y": 1}
    expect(page.get_by_test_id("threshold-moved")).to_be_visible()
    page.keyboard.press("End")
    highest = max(scores)
    top = at(scores, labels, highest)
    assert cells(page) == top["cells"] and cells(page) != everything["cells"]
    assert page.get_by_test_id("metric-f1").inner_text() == format_value("f1", top["f1"])
    tn, fp, fn, tp = top["cells"]
    assert operating_point(page) == pytest.approx({"x": fp / (fp + tn), "y": tp / (tp + fn)})
    # every verdict of the grid follows the slider: at the highest score almost all pass as good
    verdicts = page.get_by_test_id("results-grid").get_by_test_id("result")
    flagged = [r.get_attribute("data-verdict") == "anomalous" for r in verdicts.all()]
    shown = [float(r.get_attribute("data-score")) for r in verdicts.all()]
    assert flagged == [s >= highest for s in shown]
    assert shown == sorted(shown, reverse=True)  # most anomalous first by default

    # the evaluation's threshold again, then a cell: exactly its images
    page.get_by_test_id("use-evaluation-threshold").click()
    assert cells(page) == expected["cells"]
    page.get_by_test_id("cell-1-1").click()
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=results-grid] [data-testid=result]').length === n "
        "&& !document.querySelector('[data-testid=results-grid]').classList.contains('loading')",
        arg=min(48, expected["cells"][3]),
    )
    caught = page.get_by_test_id("results-grid").get_by_test_id("result").all()
    assert {(r.get_attribute("data-true"), r.get_attribute("data-verdict")) for r in caught} == {
        ("anomalous", "anomalous")
    }
    assert "selected" in page.get_by_test_id("cell-1-1").get_attribute("class")
    csv = page.get_by_test_id("download-csv").get_attribute("href")
    assert f"score_gte={m['threshold']}" in csv and "true_class=1" in csv
    caught[0].click()
    detail = page.get_by_test_id("detail")
    detail.wait_for()
    assert "flagged anomalous" in detail.inner_text() and "✓ correct" in detail.inner_text()
    page.keyboard.press("Escape")
    page.get_by_test_id("theme-toggle").click()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "evaluation-anomaly-dark")


def test_threshold_chosen_on_the_evaluated_images_is_called_optimistic(
    logged_in_page: Any,
    workspace: Workspace,
    anomaly_template: Template,
    tmp_path: Path,
) -> None:
    """Without val images the threshold is tuned on the very images it is measured on."""
    t = evaluate_task_template(anomaly_template, tmp_path / "test-only", ["test"])
    install(t, workspace)
    page = logged_in_page
    page.goto(f"{page.base_url}/projects/{t.project_id}/evaluation/")
    source = page.get_by_test_id("threshold-source")
    source.wait_for()
    assert "optimistic" in source.inner_text() and "warn" in source.get_attribute("class")
    expect(page.get_by_test_id("subset-tabs")).to_be_hidden()
