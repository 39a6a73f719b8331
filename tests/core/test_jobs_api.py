"""Jobs API (no worker needed): list, detail, cancel of a queued job, errors."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core import services
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


def test_list_detail_cancel(staff_api: Any, api: Any, redis_client: Any) -> None:
    # A job without a project is staff-only: alice (not staff) neither lists nor reads it.
    job = services.job_submit("selftest", {"steps": 1})
    assert api.get("/api/jobs/").json() == []
    assert_error(api.get(f"/api/jobs/{job.id}/"), 404, "not_found")
    assert_error(api.post(f"/api/jobs/{job.id}/cancel"), 404, "not_found")
    api = staff_api
    listed = api.get("/api/jobs/").json()
    assert [j["id"] for j in listed] == [job.id]
    detail = api.get(f"/api/jobs/{job.id}/").json()
    assert detail["status"] == "queued" and detail["kind"] == "selftest"
    assert detail["events_url"] == f"/api/jobs/{job.id}/events"
    cancelled = api.post(f"/api/jobs/{job.id}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert api.get("/api/jobs/?status=cancelled").json()[0]["id"] == job.id
    assert api.get("/api/jobs/?status=running").json() == []


def test_unknown_job(api: Any) -> None:
    assert_error(api.get("/api/jobs/jnope/"), 404, "not_found")
    assert_error(api.post("/api/jobs/jnope/cancel"), 404, "not_found")
    assert_error(api.get("/api/jobs/../x/"), 404, "not_found")


def test_unknown_kind_is_refused() -> None:
    from studio.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        services.job_submit("rm-rf", {})


def test_event_log_skips_torn_last_line(workspace: Any) -> None:
    from studio.storage import job_store

    job = job_store.create(workspace, "selftest", {}, None)
    job_store.append_event(workspace, job.id, "a", {})
    with (workspace.job_dir(job.id) / "events.jsonl").open("ab") as fh:
        fh.write(b'{"id": 2, "type": "b", "da')
    events, offset = job_store.read_events(workspace, job.id)
    assert [e.type for e in events] == ["a"]
    with (workspace.job_dir(job.id) / "events.jsonl").open("ab") as fh:
        fh.write(b'ta": {}}\n')
    more, _ = job_store.read_events(workspace, job.id, offset)
    assert [e.type for e in more] == ["b"]
