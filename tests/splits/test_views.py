"""The Splits page routes (server side): render, select, rename, delete, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from apps.splits import services
from studio.splits.schemas import SplitRatios
from studio.storage.paths import Workspace
from tests.splits.helpers import labelled, make_project, write_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def project(workspace: Workspace) -> str:
    pid = make_project(workspace)
    write_dataset(workspace, pid, labelled([0] * 12 + [1] * 8))
    return pid


def test_page_states(client_in: Client, project: str, workspace: Workspace) -> None:
    page = client_in.get(f"/projects/{project}/splits/").content.decode()
    assert 'data-testid="split-form"' in page and "20 images in the dataset" in page
    split = services.split_create(project, SplitRatios(), 3, "First")
    page = client_in.get(f"/projects/{project}/splits/?split={split.id}").content.decode()
    assert "Locked — assignments can" in page and "First" in page and 'id="split-counts"' in page
    page = client_in.get(f"/projects/{project}/splits/?split=snope").content.decode()
    assert "No split" in page
    assert client_in.get("/projects/pnope/splits/").status_code == 404
    empty = make_project(workspace, name="Empty")
    page = client_in.get(f"/projects/{empty}/splits/").content.decode()
    assert 'data-testid="splits-empty"' in page and f"/projects/{empty}/dataset/" in page


def test_anonymous_is_redirected_to_login(client: Client, project: str) -> None:
    response = client.get(f"/projects/{project}/splits/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_rename_and_delete_routes(client_in: Client, project: str, workspace: Workspace) -> None:
    split = services.split_create(project, SplitRatios(), 3, "First")
    services.split_create(project, SplitRatios(), 4, "Second")
    base = f"/projects/{project}/splits/{split.id}"
    response = client_in.post(f"{base}/rename", {"name": "Renamed"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"].endswith(f"?split={split.id}")
    on_disk = json.loads(
        (workspace.project_dir(project) / "splits" / f"{split.id}.json").read_text()
    )
    assert on_disk["name"] == "Renamed" and on_disk["assignments"] == split.assignments
    clash = client_in.post(f"{base}/rename", {"name": "second"})
    assert clash["HX-Retarget"] == "#split-error" and "already exists" in clash.content.decode()

    exp = workspace.project_dir(project) / "experiments" / "e1"
    exp.mkdir(parents=True)
    (exp / "experiment.json").write_text(json.dumps({"name": "Run 1", "split_id": split.id}))
    refused = client_in.post(f"{base}/delete")
    assert refused["HX-Retarget"] == "#split-error" and "Run 1" in refused.content.decode()
    (exp / "experiment.json").unlink()
    deleted = client_in.post(f"{base}/delete")
    assert deleted["HX-Redirect"] == f"/projects/{project}/splits/"
    assert client_in.get(f"{base}/delete").status_code == 405


def test_dataset_grid_filters_by_subset(
    client_in: Client, project: str, workspace: Workspace
) -> None:
    """The dataset page offers each split's subsets and shows exactly that subset's images."""
    from studio.splits import store

    split = services.split_create(project, SplitRatios(), 3, "Main")
    assignments = store.load(workspace, project, split.id).assignments
    page = client_in.get(f"/projects/{project}/dataset/").content.decode()
    assert f'value="{split.id}:test"' in page and "Main · test" in page
    grid = client_in.get(f"/projects/{project}/dataset/?in={split.id}:test").content.decode()
    shown = {i for i in assignments if f'data-image-id="{i}"' in grid}
    assert shown == {i for i, subset in assignments.items() if subset == "test"}
    assert len(shown) == 2
