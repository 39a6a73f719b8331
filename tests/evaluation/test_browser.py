"""The Evaluation page in Chromium: evaluate through a real worker, read the heat-map, click a
confusion-matrix cell and get exactly its images, open one, reset."""

from __future__ import annotations

from typing import Any

import pytest

from studio.storage import project_store
from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.evaluation.fixtures import Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_empty_state_says_train_first(logged_in_page: Any, workspace: Workspace) -> None:
    project = project_store.create(workspace, "Empty", "classification")
    page = logged_in_page
    page.goto(f"{page.base_url}/projects/{project.id}/evaluation/")
    empty = page.get_by_test_id("evaluation-empty")
    assert "Train an experiment" in empty.inner_text()
    assert (
        page.get_by_test_id("to-training").get_attribute("href")
        == f"/projects/{project.id}/training/"
    )
    assert page.locator(".project-nav a.active").inner_text() == "Evaluation"


@pytest.mark.worker
@pytest.mark.slow
def test_evaluate_click_cell_reset(
    logged_in_page: Any, start_worker: Any, api: Any, trained: Template
) -> None:
    start_worker()
    page = logged_in_page
    page.goto(f"{page.base_url}/projects/{trained.project_id}/evaluation/")
    item = page.get_by_test_id("experiment-item")
    assert (
        item.count() == 1
        and "Digits baseline" in item.inner_text()
        and "completed" in item.inner_text().lower()
    )
    assert page.get_by_test_id("evaluation-status").inner_text() == "Not evaluated"
    assert page.get_by_test_id("metrics-empty").is_visible()
    assert (
        page.get_by_test_id("checkpoint")
        .locator("option")
        .all_inner_texts()[0]
        .startswith("best.ckpt (best)")
    )
    assert page.get_by_test_id("subset-test").is_checked()
    page.get_by_test_id("subset-val").check()
    page.get_by_test_id("batch-size").fill("16")
    screenshot(page, "evaluation-config")

    page.get_by_test_id("evaluate").click()
    matrix = page.get_by_test_id("confusion-matrix")
    matrix.wait_for(timeout=240_000)
    assert page.get_by_test_id("evaluation-status").inner_text() == "Evaluated"
    status = api.get(f"/api/evaluation/{trained.project_id}/{trained.experiment_id}").json()
    agg = status["aggregate"]
    assert page.get_by_test_id("metric-count").inner_text() == str(agg["overall"]["count"])
    assert (
        page.get_by_test_id("metric-accuracy").inner_text()
        == f"{100 * agg['overall']['accuracy']:.1f} %"
    )
    assert matrix.locator("td.ev-cell").count() == 100
    assert page.get_by_test_id("class-chart").is_visible()
    screenshot(page, "evaluation-metrics")

    # the test-subset tab, then an off-diagonal (confused) cell with images
    page.get_by_test_id("tab-test").click()
    cm = agg["subsets"]["test"]["confusion_matrix"]
    i, j = next((i, j) for i, row in enumerate(cm) for j, n in enumerate(row) if n and i != j)
    cell = page.get_by_test_id(f"cell-{i}-{j}")
    assert cell.inner_text() == str(cm[i][j])
    cell.click()
    grid = page.get_by_test_id("results-grid")
    results = grid.get_by_test_id("result")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=results-grid] [data-testid=result]').length === n "
        "&& !document.querySelector('[data-testid=results-grid]').classList.contains('loading')",
        arg=cm[i][j],
    )
    names = agg["class_names"]
    shown = [
        (
            r.get_attribute("data-true"),
            r.get_attribute("data-pred"),
            r.get_attribute("data-correct"),
        )
        for r in results.all()
    ]
    assert shown == [(names[i], names[j], "false")] * cm[i][j]
    expected = api.get(f"/api/evaluation/{trained.project_id}/{trained.experiment_id}/results",
                       {"subset": "test", "true_class": agg["class_ids"][i], "pred_class": agg["class_ids"][j]}).json()  # fmt: skip
    assert sorted(r.get_attribute("data-image-id") for r in results.all()) == sorted(
        r["image_id"] for r in expected["results"]
    )
    assert page.get_by_test_id("filter-true").input_value() == str(agg["class_ids"][i])
    assert "ev-cell" in cell.get_attribute("class") and "selected" in cell.get_attribute("class")
    screenshot(page, "evaluation-cell-filter")

    page.get_by_test_id("reset").click()
    assert page.get_by_test_id("metrics-empty").is_visible()  # at once, before the server answers
    assert page.get_by_test_id("evaluation-status").inner_text() == "Not evaluated"
    page.wait_for_function("() => !document.querySelector('[data-testid=reset]').offsetParent")
    page.reload()
    assert page.get_by_test_id("metrics-empty").is_visible()
    assert (
        api.get(f"/api/evaluation/{trained.project_id}/{trained.experiment_id}").json()["status"]
        == "none"
    )


def test_browse_results_detail_sort_and_pages(
    logged_in_page: Any, api: Any, evaluated: Template
) -> None:
    """An already evaluated experiment: the grid's filters, sort, pages and the detail view."""
    page = logged_in_page
    page.goto(f"{page.base_url}/projects/{evaluated.project_id}/evaluation/")
    page.get_by_test_id("confusion-matrix").wait_for()
    assert page.get_by_test_id("evaluation-status").inner_text() == "Evaluated"
    assert page.get_by_test_id("class-table").locator("tbody tr").count() == 10
    total = api.get(f"/api/evaluation/{evaluated.project_id}/{evaluated.experiment_id}").json()[
        "aggregate"
    ]["overall"]["count"]
    page.get_by_test_id("results-toggle").click()
    results = page.get_by_test_id("results-grid").get_by_test_id("result")
    results.first.wait_for()
    assert results.count() == min(48, total)
    assert page.get_by_test_id("page-info").inner_text() == f"Page 1 of {-(-total // 48)}"
    page.get_by_test_id("next-page").click()
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=result]').length === n", arg=total - 48
    )

    page.get_by_test_id("sort").select_option("-confidence")
    page.get_by_test_id("filter-correct").select_option("false")
    page.wait_for_function(
        "() => { const r = [...document.querySelectorAll('[data-testid=result]')];"
        " return r.length > 0 && r.every(e => e.dataset.correct === 'false') }"
    )
    confidences = [float(t.rstrip(" %")) for t in page.locator(".ev-thumb-conf").all_inner_texts()]
    assert confidences == sorted(confidences, reverse=True)
    first = results.first
    assert "bad" in first.get_attribute("class")
    first.click()
    detail = page.get_by_test_id("detail")
    detail.wait_for()
    assert detail.get_by_test_id("detail-topk").locator("li").count() == 5
    assert first.get_attribute("data-pred") in detail.inner_text()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=detail-image]').naturalWidth > 0"
    )
    screenshot(page, "evaluation-detail")
    page.keyboard.press("Escape")
    detail.wait_for(state="hidden")
    href = page.get_by_test_id("download-csv").get_attribute("href")
    assert href.endswith("/results.csv?correct=false&sort=-confidence")
    page.get_by_test_id("theme-toggle").click()
    screenshot(page, "evaluation-dark")
