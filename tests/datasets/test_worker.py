"""An import through a real ``rundramatiq`` worker, its progress read over SSE from a real Daphne."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.datasets.models import Image as ImageRow
from studio.datasets import store
from studio.storage.paths import Workspace
from tests.datasets.helpers import class_tree
from tests.sse_client import read_sse

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_import_job_streams_progress_then_success(
    start_worker: Any,
    live_server_url: str,
    folder_api: Any,
    user: Any,
    project: Any,
    import_dir: Path,
    workspace: Workspace,
) -> None:
    api = folder_api
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user).key
    root = class_tree(
        import_dir / "pets", {"cat": 25, "dog": 20}
    )  # over the pool threshold: 2 processes
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    start_worker()
    started = api.post(f"/api/datasets/{project.id}/import",
                       {"source": "folder", "path": str(root), "format": "class_folders"}, format="json").json()  # fmt: skip
    events = read_sse(f"{live_server_url}{started['events_url']}", token, timeout=120)
    types = [e["event"] for e in events]
    assert types[:2] == ["queued", "started"], types
    assert types[-1] == "succeeded", events[-1]
    progress = [e["data"] for e in events if e["event"] == "progress"]
    assert len(progress) >= 2
    counts = [p["done"] for p in progress if p["total"]]
    assert counts == sorted(counts) and counts[-1] == 46
    assert all(p["import_id"] == started["import_id"] for p in progress)
    report_event = next(e for e in events if e["event"] == "report")
    assert report_event["data"]["added"] == 45 and report_event["data"]["skipped"] == 1
    assert events[-1]["data"]["result"]["import_id"] == started["import_id"]

    report = store.read_report(store.dataset_paths(workspace, project.id), started["import_id"])
    assert report.status == "committed" and report.job_id == started["job_id"]
    assert [i.file for i in report.issues] == ["cat/broken.jpg"]
    assert ImageRow.objects.filter(project_id=project.id).count() == 45
