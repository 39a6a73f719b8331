"""The Dataset page in headless Chromium: empty state, import through the GUI, report, grid, viewer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import screenshot
from tests.datasets.helpers import class_tree, write_image

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_import_browse_and_view(
    warm_live_server: str, logged_in_page: Any, start_worker: Any, project: Any, tmp_path: Path
) -> None:
    page = logged_in_page
    root = class_tree(tmp_path / "pets", {"cat": 24, "dog": 14, "bird": 6})
    write_image(root / "dog" / "wide.png", 77, size=(300, 120))
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "notes.txt").write_text("not an image")
    start_worker()

    page.goto(f"{page.base_url}/projects/{project.id}/dataset/")
    empty = page.get_by_test_id("empty-dataset")
    assert empty.is_visible()
    assert "Class folders" in empty.inner_text()
    screenshot(page, "dataset-empty")

    # Import a folder on the server through the dialog.
    # the button works once Alpine has set up its component (slow under a loaded CI machine)
    page.wait_for_function(
        "document.querySelector('[data-testid=open-import]').closest('[x-data]')._x_dataStack"
    )
    page.get_by_test_id("open-import").click()
    dialog = page.get_by_test_id("import-dialog")
    dialog.wait_for(state="visible")
    page.get_by_test_id("import-path").fill(str(tmp_path / "nope"))
    page.get_by_test_id("import-submit").click()
    page.get_by_test_id("import-error").get_by_text("does not exist").wait_for()
    page.get_by_test_id("import-path").fill(str(root))
    assert page.get_by_test_id("import-error").inner_text() == ""  # the old error goes away
    screenshot(page, "dataset-import-form")
    page.get_by_test_id("import-submit").click()
    page.get_by_test_id("import-progress").wait_for()
    assert page.get_by_role("progressbar").is_visible()
    screenshot(page, "dataset-importing")
    report = page.get_by_test_id("import-report")
    report.wait_for(timeout=60000)
    assert page.get_by_test_id("import-status").inner_text() == "Import finished"
    assert "45 added" in " ".join(report.inner_text().split())
    issues = page.get_by_test_id("report-issues").inner_text()
    assert (
        "cat/broken.jpg" in issues and "notes.txt" in issues and "unsupported file type" in issues
    )
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "46"
    screenshot(page, "dataset-report")

    # Back to the page: grid, classes, chart.
    page.get_by_test_id("import-done").click()
    page.get_by_test_id("thumb-grid").wait_for()
    assert "45 images · 3 classes" in " ".join(
        page.get_by_test_id("dataset-counts").inner_text().split()
    )
    assert page.get_by_test_id("thumb").count() == 45
    assert page.locator("#class-chart").is_visible()
    lazy = page.locator("[data-testid=thumb] img").first
    assert lazy.get_attribute("loading") == "lazy"
    page.get_by_test_id("thumb").last.scroll_into_view_if_needed()
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=thumb] img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "dataset-grid")

    # Filter by class (the select shows counts), then sort.
    page.get_by_test_id("class-select").select_option(label="dog (15)")
    page.get_by_test_id("grid-count").get_by_text("15 matching images").wait_for()
    labels = page.locator("[data-testid=thumb] .thumb-label").all_inner_texts()
    assert len(labels) == 15 and set(labels) == {"dog"}
    assert "class=" in page.url
    page.get_by_test_id("sort-select").select_option("-name")
    page.wait_for_function("document.querySelector('[data-testid=thumb]').title === 'dog/wide.png'")
    page.get_by_test_id("class-filter-bird").click()
    page.get_by_test_id("grid-count").get_by_text("6 matching images").wait_for()

    # Open an image, step with the arrow keys, close with Esc.
    names = [t.get_attribute("title") for t in page.get_by_test_id("thumb").all()]
    page.get_by_test_id("thumb").first.click()
    viewer = page.get_by_test_id("viewer")
    viewer.wait_for()
    name = page.get_by_test_id("viewer-name")
    page.wait_for_function(
        f"document.querySelector('[data-testid=viewer-name]').textContent === {names[0]!r}"
    )
    assert page.get_by_test_id("viewer-label").inner_text() == "bird"
    page.wait_for_function("document.querySelector('[data-testid=viewer-image]').naturalWidth > 0")
    screenshot(page, "dataset-detail")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"document.querySelector('[data-testid=viewer-name]').textContent === {names[1]!r}"
    )
    assert page.get_by_test_id("viewer-position").inner_text().startswith("2 of 6")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        f"document.querySelector('[data-testid=viewer-name]').textContent === {names[0]!r}"
    )
    page.keyboard.press("Escape")
    viewer.wait_for(state="hidden")
    assert name.is_hidden()

    # The import history keeps the report.
    page.get_by_test_id("import-row").first.locator("summary").click()
    page.locator(".ds-imports [data-testid=import-report]").wait_for()

    # Dark theme: same page, readable.
    page.get_by_test_id("theme-toggle").click()
    screenshot(page, "dataset-grid-dark")
