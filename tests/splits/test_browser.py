"""The Splits page in Chromium: sliders, live preview, create, the locked summary, empty state."""

from __future__ import annotations

import re
from typing import Any

import pytest

from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.splits.helpers import labelled, make_project, write_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pct(page: Any, key: str) -> int:
    return int(page.get_by_test_id(f"pct-{key}").inner_text().replace("%", "").strip())


def test_preview_create_and_locked_summary(logged_in_page: Any, workspace: Workspace) -> None:
    page = logged_in_page
    pid = make_project(workspace, name="Birds")
    write_dataset(workspace, pid, labelled([0] * 60 + [1] * 30 + [2] * 9 + [None]))
    page.goto(f"{page.base_url}/projects/{pid}/splits/")
    assert page.locator(".project-nav a.active").inner_text() == "Splits"
    page.get_by_test_id("no-splits").wait_for()

    # Live preview with the default 80/10/10.
    table = page.get_by_test_id("preview-table")
    table.wait_for()
    assert page.get_by_test_id("size-train").inner_text() == "80"
    assert "cat" in table.inner_text() and "(unlabelled)" in table.inner_text()
    assert page.locator(".sp-preview canvas").count() == 1
    screenshot(page, "splits-preview")

    # Moving val to 20 % shares the difference between train and test; they sum to 100.
    page.get_by_test_id("slider-val").fill("20")
    assert (pct(page, "train"), pct(page, "val"), pct(page, "test")) == (71, 20, 9)
    page.wait_for_function(
        "document.querySelector('[data-testid=size-val]').textContent.trim() === '20'"
    )
    page.get_by_test_id("slider-test").fill("0")
    assert (
        pct(page, "train") + pct(page, "val") + pct(page, "test") == 100 and pct(page, "test") == 0
    )
    page.wait_for_function(
        "document.querySelector('[data-testid=size-test]').textContent.trim() === '0'"
    )
    page.get_by_test_id("slider-test").fill("10")

    seed = page.get_by_test_id("seed")
    page.get_by_test_id("random-seed").click()
    assert seed.input_value() not in ("", "0")
    seed.fill("7")
    page.get_by_test_id("split-name").fill("Baseline")
    page.wait_for_timeout(400)  # let the debounced preview settle
    page.get_by_test_id("create-split").click()

    page.wait_for_url(re.compile(r".*\?split=s[a-z0-9]+$"))
    summary = page.get_by_test_id("split-summary")
    summary.wait_for()
    assert page.get_by_test_id("summary-name").inner_text() == "Baseline"
    badge = page.get_by_test_id("lock-badge")
    assert badge.is_visible() and "Locked — assignments can't change" in badge.inner_text()
    sizes = [
        int(page.get_by_test_id(f"summary-{k}").inner_text()) for k in ("train", "val", "test")
    ]
    assert sum(sizes) == 100 and sizes[1] == 20
    assert page.get_by_test_id("split-item").count() == 1
    assert "seed 7" in summary.inner_text()
    screenshot(page, "splits-summary")

    page.get_by_test_id("theme-toggle").click()
    page.wait_for_timeout(200)
    screenshot(page, "splits-summary-dark")

    # "+ New split" brings the form back, with the saved split still listed.
    page.get_by_test_id("new-split").click()
    page.get_by_test_id("preview-table").wait_for()
    assert page.get_by_test_id("split-item").count() == 1
    screenshot(page, "splits-new-dark")


def test_empty_dataset_points_to_dataset_page(logged_in_page: Any, workspace: Workspace) -> None:
    page = logged_in_page
    pid = make_project(workspace, name="Nothing yet")
    page.goto(f"{page.base_url}/projects/{pid}/splits/")
    empty = page.get_by_test_id("splits-empty")
    empty.wait_for()
    link = page.get_by_test_id("to-dataset")
    assert link.get_attribute("href") == f"/projects/{pid}/dataset/"
    screenshot(page, "splits-empty")
