"""Start training from the Training page and watch the curves grow (Chromium, real worker)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def worker(start_worker: Any) -> Any:
    """Started first: a worker takes a while to import torch on a busy CPU."""
    return start_worker()


@pytest.fixture
def warm_server(live_server_url: str) -> str:
    """The first request makes Daphne import every app (torch included); do it with a
    patient client before the browser's 15 s page timeout applies."""
    import urllib.request

    urllib.request.urlopen(f"{live_server_url}/login/", timeout=180).read()
    return live_server_url


def points(page: Any, testid: str) -> int:
    return int(page.get_attribute(f"[data-testid={testid}]", "data-points") or 0)


@pytest.mark.timeout(600)
def test_start_training_from_the_page_and_see_the_curves_grow(
    digits: tuple[str, str], worker: Any, warm_server: str, logged_in_page: Any
) -> None:
    pid, _ = digits
    page = logged_in_page
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{page.base_url}/projects/{pid}/training/")
    try:
        page.wait_for_selector("[data-testid=model-resnet18]", state="attached")
    finally:
        screenshot(page, "training-form")
        assert not errors, errors
    # offline: says so, trains from scratch
    expect(page.get_by_test_id("pretrained-note")).to_be_visible()
    expect(page.get_by_test_id("pretrained")).to_be_disabled()
    screenshot(page, "training-form")

    # a bad value is named next to its field, nothing is created
    page.fill("[data-testid=field-lr]", "0")
    page.click("[data-testid=start-training]")
    page.wait_for_selector("[data-testid=error-lr]:has-text('greater than 0')")
    assert "lr" in page.inner_text("[data-testid=form-error]")

    page.fill("[data-testid=field-lr]", "0.002")
    page.fill("[data-testid=field-epochs]", "3")
    page.fill("[data-testid=field-batch_size]", "8")
    page.fill("[data-testid=field-image_size]", "16")
    page.click("[data-testid=toggle-augment]")
    page.uncheck("[data-testid=aug-random_resized_crop]")
    page.click("[data-testid=toggle-advanced]")
    page.fill("[data-testid=field-warmup_epochs]", "0")
    page.fill("[data-testid=exp-name]", "From the page")
    page.click("[data-testid=start-training]")

    page.wait_for_selector("[data-testid=run-panel]")
    page.wait_for_selector("[data-testid=run-status]:has-text('running')", timeout=180_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=loss-chart]').dataset.points > 0",
        timeout=120_000,
    )
    first = points(page, "loss-chart")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=loss-chart]').dataset.points > {first}",
        timeout=120_000,
    )
    assert points(page, "loss-chart") > first
    assert "left" in page.inner_text("[data-testid=eta]")  # ETA and throughput while running
    screenshot(page, "training-running")

    # a reload in the middle keeps the curve: metrics first, then the replayed stream
    page.reload()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=loss-chart]').dataset.points > 0",
        timeout=60_000,
    )
    page.wait_for_selector("[data-testid=run-status]:has-text('completed')", timeout=300_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=metric-chart]').dataset.points >= 3",
        timeout=30_000,
    )
    assert page.inner_text("[data-testid=stat-epochs]") == "3 / 3"
    expect(page.get_by_test_id("stat-best")).to_be_visible()
    expect(page.get_by_test_id("stat-best")).to_contain_text("(epoch ")
    # the list entry shows the same best value as the panel, without a reload
    best = page.get_by_test_id("stat-best").inner_text().split(" (epoch")[0]
    expect(page.get_by_test_id("item-metric")).to_contain_text(best)
    expect(page.get_by_test_id("btn-evaluate")).to_be_visible()
    assert page.text_content("[data-testid=item-status]") == "completed"
    assert "3/3 epochs" in page.inner_text("[data-testid=experiment-item]")
    screenshot(page, "training-completed")
    page.click("[data-testid=theme-toggle]")
    screenshot(page, "training-completed-dark")
