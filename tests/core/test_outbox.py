"""The workspace is the job outbox: a broker that is down answers 503 and leaves nothing
``running``; a job recorded while Redis could not take it is sent once Redis is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis as redis_lib

from apps.core import services
from apps.core.errors import api_exception_handler
from studio.errors import BrokerUnavailable
from studio.runtime.redis_server import EmbeddedRedis, ping
from studio.storage import job_store
from studio.storage.paths import Workspace
from studio.storage.schemas import JobStatus
from tests.datasets.helpers import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(redis_server: EmbeddedRedis) -> Iterator[EmbeddedRedis]:
    """The real Redis of the test settings, stopped for the test and started again after."""
    redis_server.stop()
    redis_server.stop_stale()
    assert not ping(redis_server.url)
    try:
        yield redis_server
    finally:
        redis_server.start()


def queued_messages(client: redis_lib.Redis) -> bytes:
    values: list[bytes] = client.hvals("studio:studio.msgs")  # type: ignore[assignment]
    return b"".join(values)


def project(ws: Workspace) -> str:
    from apps.projects.mirror import mirror_project
    from studio.storage import project_store
    from tests.splits.helpers import make_project

    pid = make_project(ws, "classification", "Pets")
    mirror_project(project_store.inspect(ws, pid))
    return pid


def upload(api: Any, pid: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile(f"cat_{i}.jpg", image_bytes(i)) for i in range(2)]
    payload = {"source": "files", "format": "class_folders", "label": "cat", "files": files}
    return api.post(f"/api/datasets/{pid}/import", payload, format="multipart")


def test_submit_while_the_broker_is_down_is_a_503_and_records_nothing(
    api: Any, workspace: Workspace, redis_down: EmbeddedRedis
) -> None:
    pid = project(workspace)
    response = upload(api, pid)
    assert response.status_code == 503, response.content
    body = response.json()["error"]
    assert body["code"] == "broker_unavailable" and "try again" in body["message"]
    assert api.get(f"/api/datasets/{pid}/imports").json() == []
    assert job_store.list_ids(workspace) == []
    with pytest.raises(BrokerUnavailable):
        services.job_submit("selftest", {})
    assert job_store.list_ids(workspace) == []


def test_an_import_report_is_failed_when_its_job_cannot_be_queued(
    api: Any, workspace: Workspace, redis_down: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis dies between the import's own check and the job's: the report is not left running."""
    monkeypatch.setattr("apps.datasets.services.broker_check", lambda: None)
    pid = project(workspace)
    response = upload(api, pid)
    assert response.status_code == 503, response.content
    reports = api.get(f"/api/datasets/{pid}/imports").json()
    assert [r["status"] for r in reports] == ["failed"]


def test_a_job_the_broker_missed_is_sent_when_redis_is_back(
    workspace: Workspace,
    redis_server: EmbeddedRedis,
    redis_client: redis_lib.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = services.job_submit("selftest", {"steps": 1})
    assert job_store.load(workspace, sent.id).enqueued_at is not None
    assert sent.id.encode() in queued_messages(redis_client)

    redis_server.stop()
    redis_server.stop_stale()
    try:
        # Redis answered the check, then died before the send: the job stays in the outbox
        monkeypatch.setattr(services, "broker_check", lambda: None)
        job = services.job_submit("selftest", {"steps": 1})
        assert job.status == JobStatus.queued
        assert job_store.load(workspace, job.id).enqueued_at is None
        monkeypatch.setattr(services, "OUTBOX_GRACE", timedelta(0))
        counts = services.jobs_reconcile(requeue=False)
        assert counts["pending"] == 1 and counts["requeued"] == 0
    finally:
        redis_server.start()
    counts = services.jobs_reconcile(requeue=False)
    assert counts["requeued"] == 1 and counts["pending"] == 0  # only the missed one
    assert job_store.load(workspace, job.id).enqueued_at is not None
    assert job.id.encode() in queued_messages(redis_client)
    assert services.jobs_reconcile(requeue=False)["requeued"] == 0  # sent once is enough


def test_a_redis_error_inside_a_request_is_a_503() -> None:
    response = api_exception_handler(redis_lib.ConnectionError("Connection refused"), {})
    assert response is not None and response.status_code == 503
    assert response.data["error"]["code"] == "broker_unavailable"
