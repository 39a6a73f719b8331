"""An export through a real ``rundramatiq`` worker, its progress read over SSE from Daphne."""

from __future__ import annotations

from typing import Any

import pytest

from studio.ml.export.store import load_export
from studio.storage.paths import Workspace
from tests.sse_client import read_sse

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_export_job_streams_progress_then_success(
    start_worker: Any,
    live_server_url: str,
    api: Any,
    user: Any,
    db_trained: tuple[str, str],
    workspace: Workspace,
) -> None:
    from rest_framework.authtoken.models import Token

    pid, eid = db_trained
    token = Token.objects.create(user=user).key
    start_worker()
    started = api.post(f"/api/export/{pid}/{eid}", {"format": "onnx"}, format="json").json()
    events = read_sse(f"{live_server_url}{started['events_url']}", token, timeout=240)
    types = [e["event"] for e in events]
    assert types[:2] == ["queued", "started"], types
    assert types[-1] == "succeeded", events[-1]
    progress = [e["data"] for e in events if e["event"] == "progress"]
    assert progress and all(p["export_id"] == started["export_id"] for p in progress)
    assert progress[-1]["done"] == progress[-1]["total"] == 33
    assert "Validation passed" in progress[-1]["message"]
    summary = next(e["data"] for e in events if e["event"] == "export")
    assert summary["passed"] is True and summary["status"] == "completed"
    assert events[-1]["data"]["result"]["export_id"] == started["export_id"]
    export = load_export(workspace, pid, eid, started["export_id"])
    assert export.job_id == started["job_id"] and export.validation and export.validation.passed
    replay = read_sse(
        f"{live_server_url}{started['events_url']}", token, last_event_id=events[2]["id"]
    )
    assert [e["id"] for e in replay] == [e["id"] for e in events[3:]]
