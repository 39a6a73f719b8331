"""An evaluation through a real ``rundramatiq`` worker, its progress read over SSE from Daphne."""

from __future__ import annotations

from typing import Any

import pytest

from apps.evaluation.models import EvalResult
from studio.ml import evaluation_files
from studio.storage.paths import Workspace
from tests.evaluation.fixtures import Template
from tests.sse_client import read_sse

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_evaluation_job_streams_progress_then_results(
    start_worker: Any,
    live_server_url: str,
    api: Any,
    user: Any,
    workspace: Workspace,
    trained: Template,
) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user).key
    start_worker()
    started = api.post(f"/api/evaluation/{trained.project_id}/{trained.experiment_id}",
                       {"subsets": ["val", "test"], "batch_size": 8, "device": "cpu"}, format="json")  # fmt: skip
    assert started.status_code == 202, started.content
    body = started.json()
    events = read_sse(f"{live_server_url}{body['events_url']}", token, timeout=240)
    types = [e["event"] for e in events]
    assert types[:2] == ["queued", "started"], types
    assert types[-1] == "succeeded", events[-1]
    progress = [e["data"] for e in events if e["event"] == "progress"]
    status = api.get(f"/api/evaluation/{trained.project_id}/{trained.experiment_id}").json()
    total = status["aggregate"]["overall"]["count"]
    done = [p["done"] for p in progress if p["total"]]
    assert progress[0]["stage"] == "loading"
    assert (
        done == sorted(done)
        and done[-1] == total
        and all(p["total"] == total for p in progress if p["total"])
    )
    assert events[-1]["data"]["result"]["images"] == total

    assert status["status"] == "completed" and status["job_id"] == body["job_id"]
    assert (
        status["checkpoint"]["name"] == "best.ckpt" and status["checkpoint"]["model"] == "resnet18"
    )
    assert status["subsets"] == {"val": status["aggregate"]["subsets"]["val"]["count"],
                                 "test": status["aggregate"]["subsets"]["test"]["count"]}  # fmt: skip
    assert EvalResult.objects.filter(experiment_id=trained.experiment_id).count() == total
    paths = evaluation_files.evaluation_paths(workspace, trained.project_id, trained.experiment_id)
    assert paths.results.is_file() and paths.aggregate.is_file()
