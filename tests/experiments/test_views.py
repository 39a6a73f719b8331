"""The Training page rendered by Django (empty states, form data, run panel)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from apps.experiments import services
from studio.storage.paths import Workspace
from tests.experiments.helpers import FAST_CONFIG
from tests.splits.helpers import labelled, make_project, write_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def page(client: Client, pid: str, query: str = "") -> str:
    response = client.get(f"/projects/{pid}/training/{query}")
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def json_script(html: str, element_id: str) -> Any:
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, element_id
    return json.loads(match.group(1))


def test_empty_states_point_to_dataset_and_splits(client: Client, workspace: Workspace) -> None:
    from apps.projects.mirror import projects_sync

    pid = make_project(workspace)
    projects_sync()
    html = page(client, pid)
    assert 'data-testid="training-empty"' in html and f"/projects/{pid}/dataset/" in html
    write_dataset(workspace, pid, labelled([0, 1, 2, 0]))
    html = page(client, pid)
    assert "No split yet" in html and f"/projects/{pid}/splits/" in html
    assert client.get("/projects/pnope/training/").status_code == 404


def test_form_carries_models_defaults_and_splits(client: Client, digits: tuple[str, str]) -> None:
    pid, sid = digits
    html = page(client, pid)
    assert 'data-testid="training-form"' in html and 'class="project-nav"' in html
    data = json_script(html, "training-form-data")
    assert [s["id"] for s in data["splits"]] == [sid]
    models = {m["key"]: m for m in data["describe"]["models"]}
    assert (
        models["resnet18"]["parameters"] > 1e6
        and models["resnet18"]["pretrained_available"] is False
    )
    fields = {f["name"]: f for f in data["describe"]["hyperparameters"]}
    assert fields["epochs"]["help"] and set(data["main"]) <= set(fields)
    # the offline note for pretrained weights (its text is built by training.js: Alpine's CSP
    # build has no template strings)
    assert 'data-testid="pretrained-note"' in html and 'x-text="pretrainedNote()"' in html


def test_run_panel_shows_an_experiment(client: Client, digits: tuple[str, str]) -> None:
    pid, sid = digits
    exp = services.experiment_create(pid, sid, FAST_CONFIG, "Panel")
    html = page(client, pid)  # the newest experiment is selected by default
    data = json_script(html, "experiment-data")
    assert data["id"] == exp.id and data["status"] == "draft" and data["split_name"] == "Main"
    assert 'data-testid="btn-start"' in html and 'data-testid="experiment-item"' in html
    assert 'data-testid="training-form"' in page(client, pid, "?new=1")
    assert "No experiment" in page(client, pid, "?exp=enope")


def test_regression_form_puts_the_loss_first_and_the_run_panel_knows_lower_is_better(
    client: Client, workspace: Workspace
) -> None:
    from apps.projects.mirror import projects_sync
    from apps.splits.services import split_create
    from studio.splits.schemas import SplitRatios
    from tests.splits.helpers import targets

    pid = make_project(workspace, "regression", "Ages")
    projects_sync()
    write_dataset(workspace, pid, targets([float(i) for i in range(30)]), (), ("age",))
    split = split_create(pid, SplitRatios(train=0.8, val=0.1, test=0.1), seed=0, name="Main")
    data = json_script(page(client, pid), "training-form-data")
    assert "loss" in data["main"]
    assert {f["name"] for f in data["describe"]["hyperparameters"]} >= {"loss"}
    exp = services.experiment_create(pid, split.id, FAST_CONFIG, "Ages run")
    html = page(client, pid, f"?exp={exp.id}")
    assert 'data-monitor="val_mae" data-monitor-mode="min"' in html


def test_classification_form_has_no_loss(client: Client, digits: tuple[str, str]) -> None:
    pid, _ = digits
    data = json_script(page(client, pid), "training-form-data")
    assert "loss" not in data["main"]
    assert "loss" not in {f["name"] for f in data["describe"]["hyperparameters"]}


def test_form_suggests_the_image_size_from_the_images(
    client: Client, digits: tuple[str, str]
) -> None:
    pid, _ = digits
    html = page(client, pid)
    data = json_script(html, "training-form-data")
    hint = data["image_size_hint"]
    # digits are 32 px: not the 224 px default; EfficientNet-B3 would cap at 300, not here
    assert (hint["median_width"], hint["median_height"]) == (32, 32)
    assert hint["per_model"]["resnet18"] == 32 and hint["per_model"]["efficientnet_b3"] == 32
    assert data["estimate_url"] == f"/api/experiments/{pid}/estimate"
    assert 'data-testid="image-size-note"' in html and 'data-testid="epoch-estimate"' in html


def test_run_panel_links_to_the_evaluation_page(client: Client, digits: tuple[str, str]) -> None:
    pid, sid = digits
    services.experiment_create(pid, sid, FAST_CONFIG, "Panel")
    html = page(client, pid)
    assert f'data-evaluation-url="/projects/{pid}/evaluation/"' in html
    assert 'data-testid="btn-evaluate"' in html and 'data-testid="run-warning"' in html
