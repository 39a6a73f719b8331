"""The Evaluation page in Chromium: evaluate through a real worker, read the heat-map, click a
confusion-matrix cell and get exactly its images, open one, reset."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from studio.ml.vocabulary import format_value
from studio.storage import project_store
from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.evaluation.fixtures import Template
from tests.members import alice_owns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_empty_state_says_train_first(logged_in_page: Any, workspace: Workspace) -> None:
    project = project_store.create(workspace, "Empty", "classification", members=alice_owns())
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
    expect(page.get_by_test_id("metrics-empty")).to_be_visible()
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
    assert page.get_by_test_id("metric-accuracy").inner_text() == format_value(
        "accuracy", agg["overall"]["accuracy"]
    )
    assert matrix.locator("td.ev-cell").count() == 100
    expect(page.get_by_test_id("class-chart")).to_be_visible()
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
    expect(
        page.get_by_test_id("metrics-empty")
    ).to_be_visible()  # at once, before the server answers
    assert page.get_by_test_id("evaluation-status").inner_text() == "Not evaluated"
    page.wait_for_function("() => !document.querySelector('[data-testid=reset]').offsetParent")
    page.reload()
    expect(page.get_by_test_id("metrics-empty")).to_be_visible()
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


@pytest.mark.parametrize("width", [1400, 500])
def test_tiles_keys_csv_and_export_link(
    logged_in_page: Any, api: Any, evaluated: Template, width: int, tmp_path: Any
) -> None:
    """Issue 12: tiles name the truth and the prediction; ← → step through the details across
    pages, Esc closes; the CSV button says "(filtered)" and its file holds only the matching
    images; "Export →" opens the Export page on this experiment (the ?experiment= link the
    Training page makes)."""
    pid, eid = evaluated.project_id, evaluated.experiment_id
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{page.base_url}/projects/{pid}/evaluation/?experiment={eid}")
    expect(page.get_by_test_id("confusion-matrix")).to_be_visible()
    screenshot(page, f"evaluation-classification-{width}")
    page.get_by_test_id("results-toggle").click()
    tiles = page.get_by_test_id("results-grid").get_by_test_id("result")
    expect(tiles).to_have_count(48)
    for tile in tiles.all()[:6]:
        expect(tile.get_by_test_id("tile-true")).to_have_text(
            f"true {tile.get_attribute('data-true')}"
        )
        expect(tile.get_by_test_id("tile-pred")).to_have_text(
            f"pred {tile.get_attribute('data-pred')}"
        )
    names = [t.get_attribute("title").split(":")[0] for t in tiles.all()]
    total = api.get(f"/api/evaluation/{pid}/{eid}").json()["aggregate"]["overall"]["count"]
    assert total > 48  # two pages

    # ← → step through the details; across the page boundary; Esc closes
    tiles.nth(46).click()
    detail = page.get_by_test_id("detail")
    expect(page.get_by_test_id("detail-name")).to_have_text(names[46])
    expect(page.get_by_test_id("detail-position")).to_have_text(f"47 of {total}")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("detail-name")).to_have_text(names[47])
    page.keyboard.press("ArrowRight")  # the first image of page 2
    expect(page.get_by_test_id("page-info")).to_have_text(f"Page 2 of {-(-total // 48)}")
    expect(page.get_by_test_id("detail-position")).to_have_text(f"49 of {total}")
    second = api.get(f"/api/evaluation/{pid}/{eid}/results", {"page": 2, "page_size": 48}).json()
    expect(page.get_by_test_id("detail-name")).to_have_text(second["results"][0]["file_name"])
    screenshot(page, f"evaluation-detail-keys-{width}")
    page.keyboard.press("ArrowLeft")  # back to the last image of page 1
    expect(page.get_by_test_id("page-info")).to_have_text(f"Page 1 of {-(-total // 48)}")
    expect(page.get_by_test_id("detail-name")).to_have_text(names[47])
    page.get_by_test_id("detail-prev").click()
    expect(page.get_by_test_id("detail-name")).to_have_text(names[46])
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()

    # the CSV button says when it is filtered, and the file honours the filter
    csv_button = page.get_by_test_id("download-csv")
    expect(csv_button).to_have_text("Download CSV")
    page.get_by_test_id("filter-correct").select_option("false")
    expect(csv_button).to_have_text("Download CSV (filtered)")
    wrong = api.get(f"/api/evaluation/{pid}/{eid}/results", {"correct": "false"}).json()["count"]
    with page.expect_download() as info:
        csv_button.click()
    saved = tmp_path / "results.csv"
    info.value.save_as(saved)
    rows = saved.read_text().strip().splitlines()
    assert len(rows) == 1 + wrong < 1 + total
    page.get_by_test_id("clear-filters").click()
    expect(csv_button).to_have_text("Download CSV")

    # Export → opens the Export page on this experiment
    link = page.get_by_test_id("to-export")
    expect(link).to_have_attribute("href", f"/projects/{pid}/export/?experiment={eid}")
    link.click(no_wait_after=True)  # the Export page's first request imports ONNX: slow
    page.wait_for_url(f"**/projects/{pid}/export/?experiment={eid}", timeout=120_000)
    expect(page.get_by_test_id("experiment-select")).to_have_value(eid)
