"""Projects page in headless Chromium: log in, create, rename, delete, see the list update."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TEST_PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_is_required_and_wrong_password_is_explained(
    page: Any, live_server_url: str, user: Any
) -> None:
    page.goto(f"{live_server_url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text().startswith("Wrong user name or password")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")


def test_create_rename_delete_project(logged_in_page: Any) -> None:
    page = logged_in_page
    assert page.get_by_test_id("empty-projects").is_visible()
    screenshot(page, "projects-empty")

    page.get_by_test_id("new-project").click()
    dialog = page.get_by_role("dialog")
    assert dialog.is_visible()
    # Tasks that are not built yet are visible but cannot be chosen.
    assert page.locator("input[name=task][value=oriented_object_detection]").is_disabled()
    dialog.locator("input[name=name]").fill("Digits")
    screenshot(page, "projects-create-modal")
    dialog.get_by_role("button", name="Create").click()
    card = page.get_by_test_id("project-card")
    card.first.wait_for()
    assert card.count() == 1
    assert "Digits" in card.first.inner_text()
    assert "Classification" in card.first.inner_text()
    assert not dialog.is_visible()

    # A duplicate name is explained inside the modal, nothing is created.
    page.get_by_test_id("new-project").click()
    dialog.locator("input[name=name]").fill("digits")
    dialog.get_by_role("button", name="Create").click()
    page.locator("#create-error").get_by_text("already exists").wait_for()
    assert card.count() == 1
    dialog.get_by_role("button", name="Cancel").click()

    card.first.get_by_test_id("rename").click()
    rename_input = card.first.locator("input[name=name]")
    rename_input.fill("Handwritten digits")
    card.first.get_by_role("button", name="Save").click()
    page.get_by_text("Handwritten digits").wait_for()
    screenshot(page, "projects-list")

    page.once("dialog", lambda d: d.accept())
    card.first.get_by_test_id("delete").click()
    page.get_by_test_id("empty-projects").wait_for()
    assert card.count() == 0


def test_card_opens_project_with_navigation_and_theme_toggle(logged_in_page: Any) -> None:
    page = logged_in_page
    page.get_by_test_id("new-project").click()
    page.fill("input[name=name]", "Parts")
    page.get_by_role("dialog").get_by_role("button", name="Create").click()
    page.get_by_test_id("project-link").click()
    page.wait_for_url("**/projects/*/dataset/")
    assert page.get_by_test_id("current-project").inner_text() == "Parts"
    nav = page.get_by_role("navigation", name="Project")
    for label in ("Dataset", "Splits", "Training", "Evaluation", "Export"):
        assert nav.get_by_role("link", name=label).is_visible()
    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    screenshot(page, "project-dark")
