"""The Export page opens the best experiment (not the newest run) and honours
``?experiment=``; try-it answers a non-image with a sentence that names the file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from studio.storage.paths import Workspace
from tests.evaluation.test_default_experiment import three_runs
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


def selected_export(client: Any, pid: str, query: str = "") -> Any:
    response = client.get(f"/projects/{pid}/export/{query}")
    assert response.status_code == 200
    return response


def test_export_page_opens_the_best_experiment(
    client: Any, user: Any, workspace: Workspace, tmp_path: Path
) -> None:
    client.force_login(user)
    pid = three_runs(workspace, tmp_path)
    assert selected_export(client, pid).context["selected"]["id"] == "best"  # not "chance"
    response = selected_export(client, pid, "?experiment=chance")
    assert response.context["selected"]["id"] == "chance"
    assert 'data-experiment="chance"' in response.content.decode()
    response = selected_export(client, pid, "?experiment=nope")
    assert response.context["selected"]["id"] == "best"
    assert "Experiment &#x27;nope&#x27; cannot be exported" in response.content.decode()


def test_predict_names_a_non_image_before_loading_any_model(
    api: Any, workspace: Workspace, tmp_path: Path
) -> None:
    """The checkpoints here are not models at all: a 400 naming the file proves the upload
    is checked first, and Pillow's "<_io.BytesIO object at 0x…>" never reaches the user."""
    pid = three_runs(workspace, tmp_path)
    url = f"/api/predict/{pid}/best"
    text = io.BytesIO(b"just some notes, not an image")
    text.name = "notes.txt"
    response = api.post(url, {"image": text}, format="multipart")
    assert_error(response, 400, "bad_image")
    message = response.json()["error"]["message"]
    assert message == "Not an image (JPEG, PNG, …): notes.txt" and "BytesIO" not in message
    empty = io.BytesIO(b"")
    empty.name = "empty.png"
    response = api.post(url, {"image": empty}, format="multipart")
    assert_error(response, 400, "bad_image")
