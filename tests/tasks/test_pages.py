"""The two new tasks in the GUI without a worker: the create modal, the Dataset page's empty
state and import defaults, and the Training form built from ``GET /api/tasks/``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.splits.helpers import labelled, make_project, targets, write_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_modal_offers_anomaly_detection_and_regression(logged_in_page: Any) -> None:
    page = logged_in_page
    page.get_by_test_id("new-project").click()
    dialog = page.get_by_role("dialog")
    for task in ("classification", "anomaly_detection", "regression"):
        expect(dialog.locator(f"input[name=task][value={task}]")).to_be_enabled()
    expect(dialog.locator("input[name=task][value=object_detection]")).to_be_disabled()
    dialog.locator("input[name=name]").fill("Scratches")
    dialog.locator("input[name=task][value=anomaly_detection]").check()
    screenshot(page, "tasks-create-modal")
    dialog.get_by_role("button", name="Create").click()
    page.wait_for_url("**/dataset/")  # a new project opens on its Dataset page

    page.goto(f"{page.base_url}/")
    page.get_by_test_id("new-project").click()
    dialog.locator("input[name=name]").fill("Heights")
    dialog.locator("input[name=task][value=regression]").check()
    dialog.get_by_role("button", name="Create").click()
    page.wait_for_url("**/dataset/")
    page.goto(f"{page.base_url}/")
    cards = page.get_by_test_id("project-card")
    expect(cards.filter(has_text="Scratches")).to_contain_text("Anomaly detection")
    expect(cards.filter(has_text="Heights")).to_contain_text("Regression")

    # Each project's empty Dataset page explains its task's formats and preselects the usual one.
    expected = {"Scratches": ("good/", "class_folders"), "Heights": ("numeric column", "csv")}
    for name, (hint, fmt) in expected.items():
        page.goto(f"{page.base_url}/")
        page.get_by_test_id("project-card").filter(has_text=name).get_by_test_id(
            "project-link"
        ).click()
        page.wait_for_url("**/dataset/")
        assert hint in page.get_by_test_id("format-hints").inner_text()
        page.get_by_test_id("open-import").click()
        assert page.get_by_test_id("import-format").input_value() == fmt
        screenshot(page, f"tasks-empty-dataset-{fmt}")


def _project_with_split(ws: Workspace, task: str) -> str:
    from apps.projects.mirror import mirror_project
    from apps.splits.services import split_create
    from studio.splits.schemas import SplitRatios
    from studio.storage import project_store

    pid = make_project(ws, task, name=task)
    mirror_project(project_store.inspect(ws, pid))
    if task == "regression":  # test data, not product code: each task needs its annotation
        write_dataset(ws, pid, targets([float(i) for i in range(40)]), (), ("age",))
    else:
        write_dataset(ws, pid, labelled([0] * 20 + [1] * 20), ("good", "scratch"))
    split_create(pid, SplitRatios(train=0.8, val=0.1, test=0.1), seed=0, name="Main")
    return pid


@pytest.mark.parametrize(
    ("task", "shown", "hidden", "hflip"),
    [
        ("anomaly_detection", {"class_weights"}, {"loss", "label_smoothing"}, False),
        ("regression", {"loss"}, {"label_smoothing", "class_weights"}, False),
        ("classification", {"label_smoothing", "class_weights"}, {"loss"}, True),
    ],
)
def test_training_form_shows_the_settings_of_the_task(
    logged_in_page: Any,
    api: Any,
    workspace: Workspace,
    task: str,
    shown: set[str],
    hidden: set[str],
    hflip: bool,
) -> None:
    described = next(t for t in api.get("/api/tasks/").json() if t["name"] == task)
    names = {f["name"] for f in described["hyperparameters"]}
    assert shown <= names and not hidden & names, names

    pid = _project_with_split(workspace, task)
    page = logged_in_page
    # the first Training page of a server imports torch (the task's describe()): be patient
    page.goto(f"{page.base_url}/projects/{pid}/training/?new=1", timeout=180_000)
    page.get_by_test_id("model-resnet18").wait_for(state="attached")
    page.get_by_test_id("toggle-advanced").click()
    page.get_by_test_id("toggle-augment").click()
    for name in shown:
        expect(page.get_by_test_id(f"field-{name}")).to_be_visible()
    for name in hidden:
        assert page.get_by_test_id(f"field-{name}").count() == 0, name
    assert page.get_by_test_id("aug-hflip").is_checked() is hflip
    if "loss" in shown:  # a main choice of regression, next to the learning rate
        loss = page.get_by_test_id("main-fields").get_by_test_id("field-loss")
        assert loss.input_value() == "mse"
        assert loss.locator("option").all_inner_texts() == ["mse", "l1", "huber"]
    screenshot(page, f"tasks-training-form-{task}")
