"""The Dataset page in headless Chromium: empty state, import through the GUI, report, grid, viewer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot
from tests.datasets.conftest import grant_server_folders
from tests.datasets.helpers import class_tree, write_image

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_import_browse_and_view(
    warm_live_server: str, logged_in_page: Any, start_worker: Any, project: Any, user: Any,
    import_dir: Path,
) -> None:  # fmt: skip
    grant_server_folders(user)  # alice is not staff: the dialog offers server folders to her now
    page = logged_in_page
    tmp_path = import_dir
    root = class_tree(tmp_path / "pets", {"cat": 24, "dog": 14, "bird": 6})
    write_image(root / "dog" / "wide.png", 77, size=(300, 120))
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "notes.txt").write_text("not an image")
    start_worker()

    page.goto(f"{page.base_url}/projects/{project.id}/dataset/")
    empty = page.get_by_test_id("empty-dataset")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("Class folders")
    screenshot(page, "dataset-empty")

    # Import a folder on the server through the dialog.
    # the button works once Alpine has set up its component (slow under a loaded CI machine)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=open-import]').closest('[x-data]')._x_dataStack"
    )
    page.get_by_test_id("open-import").click()
    dialog = page.get_by_test_id("import-dialog")
    dialog.wait_for(state="visible")
    page.get_by_test_id("import-path").fill(str(tmp_path / "nope"))
    page.get_by_test_id("import-submit").click()
    page.get_by_test_id("import-error").get_by_text("does not exist").wait_for()
    page.get_by_test_id("import-path").fill(str(root))
    expect(page.get_by_test_id("import-error")).to_have_text("")  # the old error goes away
    screenshot(page, "dataset-import-form")
    page.get_by_test_id("import-submit").click()
    page.get_by_test_id("import-progress").wait_for()
    expect(page.get_by_role("progressbar")).to_be_visible()
    screenshot(page, "dataset-importing")
    report = page.get_by_test_id("import-report")
    report.wait_for(timeout=60000)
    expect(page.get_by_test_id("import-status")).to_have_text("Import finished")
    assert "45 added" in " ".join(report.inner_text().split())
    issues = page.get_by_test_id("report-issues").inner_text()
    assert "cat/broken.jpg" in issues and "1 file skipped (not images): .txt" in issues
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "46"
    screenshot(page, "dataset-report")

    # Back to the page: grid, classes, chart.
    page.get_by_test_id("import-done").click()
    page.get_by_test_id("thumb-grid").wait_for()
    assert "45 images · 3 classes" in " ".join(
        page.get_by_test_id("dataset-counts").inner_text().split()
    )
    assert page.get_by_test_id("thumb").count() == 45
    expect(page.locator("#class-chart")).to_be_visible()
    lazy = page.locator("[data-testid=thumb] img").first
    assert lazy.get_attribute("loading") == "lazy"
    page.get_by_test_id("thumb").last.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=thumb] img')].every(i => i.complete && i.naturalWidth > 0)"
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
    page.wait_for_function(
        "() => document.querySelector('[data-testid=thumb]').title === 'dog/wide.png'"
    )
    page.get_by_test_id("class-filter-bird").click()
    page.get_by_test_id("grid-count").get_by_text("6 matching images").wait_for()

    # Open an image, step with the arrow keys, close with Esc.
    names = [t.get_attribute("title") for t in page.get_by_test_id("thumb").all()]
    page.get_by_test_id("thumb").first.click()
    viewer = page.get_by_test_id("viewer")
    viewer.wait_for()
    name = page.get_by_test_id("viewer-name")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=viewer-name]').textContent === {names[0]!r}"
    )
    assert page.get_by_test_id("viewer-label").inner_text() == "bird"
    page.wait_for_function(
        "() => document.querySelector('[data-testid=viewer-image]').naturalWidth > 0"
    )
    screenshot(page, "dataset-detail")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=viewer-name]').textContent === {names[1]!r}"
    )
    assert page.get_by_test_id("viewer-position").inner_text().startswith("2 of 6")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=viewer-name]').textContent === {names[0]!r}"
    )
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(name).to_be_hidden()

    # The import history keeps the report.
    page.get_by_test_id("import-row").first.locator("summary").click()
    page.locator(".ds-imports [data-testid=import-report]").wait_for()

    # Dark theme: same page, readable.
    page.get_by_test_id("theme-toggle").click()
    screenshot(page, "dataset-grid-dark")


def test_the_dialog_starts_on_zip_without_server_folder_permission(
    warm_live_server: str, logged_in_page: Any, project: Any
) -> None:
    page = logged_in_page
    page.goto(f"{page.base_url}/projects/{project.id}/dataset/")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=open-import]').closest('[x-data]')._x_dataStack"
    )
    page.get_by_test_id("open-import").click()
    dialog = page.get_by_test_id("import-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=source]")).to_have_count(2)  # zip and files only
    expect(dialog.locator("input[name=source][value=zip]")).to_be_checked()
    expect(page.get_by_test_id("import-zip")).to_be_visible()
    expect(page.get_by_test_id("import-path")).to_have_count(0)


@pytest.mark.parametrize("width", [1400, 500])
def test_sidebar_follows_the_class_menu_and_the_subset(
    warm_live_server: str, logged_in_page: Any, project: Any, do_import: Any, import_dir: Path,
    width: int,
) -> None:  # fmt: skip
    """One selected class for the menu and the sidebar; sidebar counts of the chosen subset."""
    from apps.splits.services import split_create
    from studio.splits.schemas import SplitRatios

    do_import(class_tree(import_dir / "pets", {"cat": 20, "dog": 10, "bird": 5}))
    split = split_create(project.id, SplitRatios(train=0.6, val=0.2, test=0.2), 1, "Main")
    val = {row.name: row.val for row in split.counts}
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{page.base_url}/projects/{project.id}/dataset/")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=class-list]').closest('[x-data]')._x_dataStack"
    )
    everything = page.get_by_test_id("class-filter-all")
    dog = page.get_by_test_id("class-filter-dog")
    menu = page.get_by_test_id("class-select")
    expect(everything).to_have_class(re.compile(r"\bactive\b"))
    expect(dog.locator(".count")).to_have_text("10")

    # The sidebar picks dog: the menu says dog; the menu goes back to all: the sidebar follows.
    dog.click()
    page.get_by_test_id("grid-count").get_by_text("10 matching images").wait_for()
    expect(menu).to_have_value(dog.get_attribute("data-class-id") or "")
    expect(dog).to_have_class(re.compile(r"\bactive\b"))
    expect(dog).to_have_attribute("aria-pressed", "true")
    expect(everything).not_to_have_class(re.compile(r"\bactive\b"))
    menu.select_option("")
    page.get_by_test_id("grid-count").get_by_text("35 images").wait_for()
    expect(dog).not_to_have_class(re.compile(r"\bactive\b"))
    expect(dog).to_have_attribute("aria-pressed", "false")
    expect(everything).to_have_class(re.compile(r"\bactive\b"))
    menu.select_option(label="bird (5)")
    expect(page.get_by_test_id("class-filter-bird")).to_have_class(re.compile(r"\bactive\b"))
    expect(everything).not_to_have_class(re.compile(r"\bactive\b"))
    menu.select_option("")

    # A subset: every count (sidebar, menu, "All images") is that subset's.
    page.get_by_test_id("subset-select").select_option(label="Main · val")
    expect(page.get_by_test_id("side-scope")).to_have_text("Counts in Main · val")
    expect(dog.locator(".count")).to_have_text(str(val["dog"]))
    expect(page.get_by_test_id("class-filter-cat").locator(".count")).to_have_text(str(val["cat"]))
    expect(everything.locator(".count")).to_have_text(str(split.sizes.val))
    expect(menu.locator("option[value='']")).to_have_text(f"All classes ({split.sizes.val})")
    expect(page.get_by_test_id("thumb")).to_have_count(split.sizes.val)
    screenshot(page, f"dataset-subset-{width}")
    # A reload of that URL shows the same counts straight from the server.
    page.reload()
    expect(dog.locator(".count")).to_have_text(str(val["dog"]))
    expect(page.get_by_test_id("side-scope")).to_have_text("Counts in Main · val")
    page.get_by_test_id("subset-select").select_option("")
    expect(dog.locator(".count")).to_have_text("10")
    expect(page.get_by_test_id("side-scope")).to_have_text("Counts in the whole dataset")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    screenshot(page, f"dataset-grid-{width}")
