"""The Projects page (server side): create opens the Dataset page, what a card tells, and
who sees Rename/Delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from apps.projects import services
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus, MetricValue
from studio.storage.jsonio import write_json_atomic
from studio.storage.paths import Workspace
from tests.conftest import TEST_PASSWORD
from tests.splits.helpers import labelled, write_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add_experiment(
    ws: Workspace, project_id: str, experiment_id: str, model: str, metric: MetricValue | None
) -> None:
    exp = ExperimentFile(
        id=experiment_id, project_id=project_id, name=f"Run {experiment_id}",
        task="classification", split_id="s1", config={"model": model},
        status=ExperimentStatus.completed if metric else ExperimentStatus.draft, best_metric=metric,
    )  # fmt: skip
    folder = ws.project_dir(project_id) / "experiments" / experiment_id
    write_json_atomic(folder / "experiment.json", exp)


def card_of(page: str, project_id: str) -> str:
    found = re.search(rf'<article[^>]*id="project-{project_id}".*?</article>', page, re.S)
    assert found, f"no card for {project_id}"
    return " ".join(found.group(0).split())


def test_create_opens_the_dataset_page(alice: Client) -> None:
    response = alice.post("/projects/new", {"name": "Digits", "task": "classification"},
                          HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 200
    pid = re.fullmatch(r"/projects/([a-z0-9]+)/dataset/", response["HX-Redirect"])
    assert pid, response["HX-Redirect"]
    assert alice.get(response["HX-Redirect"]).status_code == 200
    # Without HTMX (no JavaScript) the same answer is a plain redirect.
    plain = alice.post("/projects/new", {"name": "Parts", "task": "classification"})
    assert plain.status_code == 302 and plain["Location"].endswith("/dataset/")
    # A refused name still answers into the dialog, not with a redirect.
    again = alice.post("/projects/new", {"name": "digits", "task": "classification"},
                       HTTP_HX_REQUEST="true")  # fmt: skip
    assert "HX-Redirect" not in again and again["HX-Retarget"] == "#create-error"
    assert "already exists" in again.content.decode()


def test_card_shows_images_and_last_experiment(
    alice: Client, user: Any, workspace: Workspace
) -> None:
    pid = services.project_create("Digits", "classification", owner=user.username).id
    empty = services.project_create("Empty", "classification", owner=user.username).id
    write_dataset(workspace, pid, labelled([0] * 30 + [1] * 12))
    add_experiment(
        workspace,
        pid,
        "e1",
        "mobilenet_v3_small",
        MetricValue(name="val_accuracy", value=0.5, epoch=1),
    )
    add_experiment(workspace, pid, "e2", "resnet18", MetricValue(name="val_accuracy", value=0.9891, epoch=4))  # fmt: skip
    page = alice.get("/").content.decode()
    card = card_of(page, pid)
    assert "42 images" in card
    assert "ResNet-18" in card and "MobileNet" not in card  # the newest experiment only
    assert re.search(r"Validation accuracy <strong>98\.9\s?%</strong>", card), card
    blank = card_of(page, empty)
    assert "No images yet" in blank and "No experiment yet" in blank
    # An experiment without a validated epoch yet shows its status instead of a number.
    add_experiment(workspace, empty, "e3", "resnet34", None)
    blank = re.sub(r"<[^>]+>", "", card_of(alice.get("/").content.decode(), empty))
    assert "ResNet-34 · draft" in blank, blank


def test_rename_and_delete_only_for_owners(
    alice: Client, user: Any, django_user_model: Any, workspace: Workspace
) -> None:
    mine = services.project_create("Mine", "classification", owner=user.username).id
    bob = django_user_model.objects.create_user("bob", password=TEST_PASSWORD)
    theirs = services.project_create("Theirs", "classification", owner=bob.username).id
    services.member_set(theirs, user.username, "viewer")
    edited = services.project_create("Edited", "classification", owner=bob.username).id
    services.member_set(edited, user.username, "editor")
    page = alice.get("/").content.decode()
    assert 'data-testid="rename"' in card_of(page, mine)
    assert 'data-testid="delete"' in card_of(page, mine)
    for pid in (theirs, edited):
        assert 'data-testid="rename"' not in card_of(page, pid)
        assert 'data-testid="delete"' not in card_of(page, pid)
        assert alice.post(f"/projects/{pid}/delete", HTTP_HX_REQUEST="true").status_code == 403
    # Staff are owners everywhere.
    staff = django_user_model.objects.create_user("ops", password=TEST_PASSWORD, is_staff=True)
    ops = Client()
    ops.force_login(staff)
    page = ops.get("/").content.decode()
    for pid in (mine, theirs, edited):
        assert 'data-testid="delete"' in card_of(page, pid)
    # A rename answers with the card, buttons included, for its owner.
    renamed = alice.post(f"/projects/{mine}/rename", {"name": "Mine 2"}, HTTP_HX_REQUEST="true")
    assert (
        'data-testid="rename"' in renamed.content.decode() and "Mine 2" in renamed.content.decode()
    )
