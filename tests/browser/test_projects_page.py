"""Projects page in headless Chromium: log in, create, rename, delete, see the list update."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus, MetricValue
from studio.storage.jsonio import write_json_atomic
from studio.storage.paths import Workspace
from tests.conftest import TEST_PASSWORD, screenshot
from tests.splits.helpers import labelled, write_dataset

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
    expect(page.get_by_test_id("empty-projects")).to_be_visible()
    screenshot(page, "projects-empty")

    page.get_by_test_id("new-project").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    # Tasks that are not built yet are visible but cannot be chosen.
    expect(page.locator("input[name=task][value=oriented_object_detection]")).to_be_disabled()
    dialog.locator("input[name=name]").fill("Digits")
    screenshot(page, "projects-create-modal")
    dialog.get_by_role("button", name="Create").click()
    # The next step is importing images: creating opens the new project's Dataset page.
    page.wait_for_url("**/projects/*/dataset/")
    expect(page.get_by_test_id("empty-dataset")).to_be_visible()
    expect(page.get_by_test_id("current-project")).to_have_text("Digits")

    page.goto(f"{page.base_url}/")
    card = page.get_by_test_id("project-card")
    expect(card).to_have_count(1)
    expect(card.first).to_contain_text("Digits")
    expect(card.first).to_contain_text("Classification")
    expect(card.first.get_by_test_id("card-images")).to_have_text("No images yet")

    # A duplicate name is explained inside the modal, nothing is created.
    page.get_by_test_id("new-project").click()
    expect(dialog).to_be_visible()
    dialog.locator("input[name=name]").fill("digits")
    dialog.get_by_role("button", name="Create").click()
    expect(page.locator("#create-error")).to_contain_text("already exists")
    expect(card).to_have_count(1)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    card.first.get_by_test_id("rename").click()
    rename_input = card.first.locator("input[name=name]")
    expect(rename_input).to_be_visible()
    rename_input.fill("Handwritten digits")
    card.first.get_by_role("button", name="Save").click()
    expect(card.first.get_by_test_id("project-link")).to_have_text("Handwritten digits")
    screenshot(page, "projects-list")

    page.once("dialog", lambda d: d.accept())
    card.first.get_by_test_id("delete").click()
    expect(page.get_by_test_id("empty-projects")).to_be_visible()
    expect(card).to_have_count(0)


def test_card_opens_project_with_navigation_and_theme_toggle(logged_in_page: Any) -> None:
    page = logged_in_page
    page.get_by_test_id("new-project").click()
    page.fill("input[name=name]", "Parts")
    page.get_by_role("dialog").get_by_role("button", name="Create").click()
    page.wait_for_url("**/projects/*/dataset/")
    page.goto(f"{page.base_url}/")
    page.get_by_test_id("project-link").click()
    page.wait_for_url("**/projects/*/dataset/")
    expect(page.get_by_test_id("current-project")).to_have_text("Parts")
    nav = page.get_by_role("navigation", name="Project")
    for label in ("Dataset", "Splits", "Training", "Evaluation", "Export"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    screenshot(page, "project-dark")


@pytest.mark.parametrize("width", [1400, 500])
def test_cards_tell_what_is_inside_and_hide_owner_actions_from_viewers(
    logged_in_page: Any, workspace: Workspace, django_user_model: Any, user: Any, width: int
) -> None:
    from apps.projects import services

    bob = django_user_model.objects.create_user("bob", password=TEST_PASSWORD)
    mine = services.project_create("Handwritten digits", "classification", owner=user.username)
    theirs = services.project_create("Bob's parts", "classification", owner=bob.username)
    services.member_set(theirs.id, user.username, "viewer")
    write_dataset(workspace, mine.id, labelled([0] * 900 + [1] * 538))
    exp = ExperimentFile(
        id="e1", project_id=mine.id, name="Baseline", task="classification", split_id="s1",
        config={"model": "resnet18"}, status=ExperimentStatus.completed,
        best_metric=MetricValue(name="val_accuracy", value=0.9891, epoch=4),
    )  # fmt: skip
    write_json_atomic(
        workspace.project_dir(mine.id) / "experiments" / "e1" / "experiment.json", exp
    )

    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{page.base_url}/")
    own = page.locator(f"#project-{mine.id}")
    viewed = page.locator(f"#project-{theirs.id}")
    expect(own.get_by_test_id("card-images")).to_have_text("1438 images")
    expect(own.get_by_test_id("card-experiment")).to_contain_text("ResNet-18")
    expect(own.get_by_test_id("card-experiment")).to_contain_text("98.9")
    expect(own.get_by_test_id("rename")).to_be_visible()
    expect(own.get_by_test_id("delete")).to_be_visible()
    # A viewer cannot rename or delete, so the buttons (which ended in a 403 page) are gone.
    expect(viewed.get_by_test_id("card-experiment")).to_have_text("No experiment yet")
    expect(viewed.get_by_test_id("rename")).to_have_count(0)
    expect(viewed.get_by_test_id("delete")).to_have_count(0)
    expect(viewed.get_by_test_id("not-owner")).to_be_visible()
    expect(own.get_by_test_id("not-owner")).to_have_count(0)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    screenshot(page, f"projects-cards-{width}")
