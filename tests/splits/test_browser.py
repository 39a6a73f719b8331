"""The Splits page in Chromium: sliders, live preview, create, the locked summary, empty state."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from studio.splits.stratify import apportion
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

    # Moving val to 20 % takes the difference from train; test keeps its 10 %.
    page.get_by_test_id("slider-val").fill("20")
    assert (pct(page, "train"), pct(page, "val"), pct(page, "test")) == (70, 20, 10)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=size-val]').textContent.trim() === '20'"
    )
    page.get_by_test_id("slider-test").fill("0")
    assert (
        pct(page, "train") + pct(page, "val") + pct(page, "test") == 100 and pct(page, "test") == 0
    )
    page.wait_for_function(
        "() => document.querySelector('[data-testid=size-test]').textContent.trim() === '0'"
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
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("Locked — assignments can't change")
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


def ratios(page: Any) -> tuple[int, int, int]:
    return (pct(page, "train"), pct(page, "val"), pct(page, "test"))


@pytest.mark.parametrize("width", [1400, 500])
def test_number_boxes_reset_warnings_and_counts_agree(
    logged_in_page: Any, workspace: Workspace, width: int
) -> None:
    """Exact ratios by typing, the documented absorb rule, Reset, warnings shown before
    creating, and the count under each slider equal to the preview's own count."""
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 900})
    pid = make_project(workspace, name="Rounding")
    # 37 images: 80/10/10 is 29.6/3.7/3.7 → 29/4/4 by largest remainder (rounding each
    # share on its own would say 30/4/4 = 38).
    write_dataset(workspace, pid, labelled([0] * 20 + [1] * 10 + [2] * 7))
    page.goto(f"{page.base_url}/projects/{pid}/splits/")
    expect(page.get_by_test_id("size-train")).to_have_text("29")
    for key, n in (("train", 29), ("val", 4), ("test", 4)):
        expect(page.get_by_test_id(f"expected-{key}")).to_have_text(f"{n} images")
    expect(page.get_by_test_id("form-warnings")).to_be_hidden()
    expect(page.get_by_test_id("reset-ratios")).to_be_disabled()

    # Typing sets exactly that value. Train moves test; val/test move train.
    page.get_by_test_id("pct-input-train").fill("90")
    assert ratios(page) == (90, 10, 0)
    page.get_by_test_id("pct-input-val").fill("20")
    assert ratios(page) == (80, 20, 0)
    page.get_by_test_id("pct-input-train").fill("70")
    assert ratios(page) == (70, 20, 10)
    page.get_by_test_id("pct-input-test").fill("0")
    assert ratios(page) == (80, 20, 0)
    page.get_by_test_id("pct-input-test").fill("10")
    # Out of range: val stops at 99, train keeps its 1 %, test gives up the rest.
    page.get_by_test_id("pct-input-val").fill("150")
    assert ratios(page) == (1, 99, 0)
    page.get_by_test_id("pct-input-val").press("Tab")
    expect(page.get_by_test_id("pct-input-val")).to_have_value("99")

    # 100/0/0 is allowed but warned about, on the page, before creating.
    page.get_by_test_id("pct-input-train").fill("100")
    assert ratios(page) == (100, 0, 0)
    warnings = page.get_by_test_id("form-warnings")
    expect(warnings).to_be_visible()
    expect(warnings).to_contain_text("Validation is empty")
    expect(warnings).to_contain_text("Test is empty")
    expect(page.get_by_test_id("expected-train")).to_have_text("37 images")
    expect(page.get_by_test_id("create-split")).to_be_enabled()
    screenshot(page, f"splits-warnings-{width}")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"

    # 1/0/99: 1 % of 37 images rounds to none, validation is empty.
    page.get_by_test_id("pct-input-test").fill("99")
    assert ratios(page) == (1, 0, 99)
    expect(warnings).to_contain_text("Train is empty")
    expect(warnings).to_contain_text("cat (20 images) has none in train")
    expect(warnings).to_contain_text("Validation is empty")

    page.get_by_test_id("reset-ratios").click()
    assert ratios(page) == (80, 10, 10)
    expect(warnings).to_be_hidden()
    expect(page.get_by_test_id("expected-val")).to_have_text("4 images")
    expect(page.get_by_test_id("reset-ratios")).to_be_disabled()
    screenshot(page, f"splits-form-{width}")


def test_estimate_uses_the_splits_rounding(logged_in_page: Any, workspace: Workspace) -> None:
    """Before a preview answers, the estimate is the largest-remainder rounding (sum = n)."""
    page = logged_in_page
    pid = make_project(workspace, name="Estimate")
    write_dataset(workspace, pid, labelled([0] * 1438))
    page.goto(f"{page.base_url}/projects/{pid}/splits/")
    page.get_by_test_id("preview-table").wait_for()
    for value in (
        {"train": 80, "val": 10, "test": 10},
        {"train": 70, "val": 15, "test": 15},
        {"train": 33, "val": 33, "test": 34},
        {"train": 1, "val": 0, "test": 99},
    ):
        counts = page.evaluate("(v) => Object.values(window.studioSplitApportion(1438, v))", value)
        assert counts == apportion(1438, [v / 100 for v in value.values()])
        assert sum(counts) == 1438
