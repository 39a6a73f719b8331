"""Malformed requests get a 4xx with the error body, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client, RequestFactory

from apps.core.sse import last_event_id
from studio.storage import job_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user: Any) -> Client:
    c = Client(raise_request_exception=False)
    c.force_login(user)
    return c


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    body = response.json()["error"]
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_json_nested_100000_levels_is_a_parse_error(client: Client) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post("/api/projects/", data=body, content_type="application/json")
    error(response, 400, "parse_error")


def test_multipart_without_a_boundary(client: Client) -> None:
    response = client.post("/api/projects/", data=b"x", content_type="multipart/form-data")
    error(response, 400, "parse_error")


def test_body_over_djangos_memory_limit_is_413(client: Client, settings: Any) -> None:
    # In-process there is no ASGI guard: Django's own limit must answer in the same shape.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    data = b'{"name": "' + b"x" * 5000 + b'", "task": "classification"}'
    response = client.post("/api/projects/", data=data, content_type="application/json")
    error(response, 413, "request_too_large")


def test_too_many_form_fields(client: Client) -> None:
    data = "&".join(f"f{i}=1" for i in range(2000))
    response = client.post(
        "/api/projects/", data=data, content_type="application/x-www-form-urlencoded"
    )
    error(response, 400, "too_many_fields")


def test_disallowed_host(client: Client) -> None:
    error(client.get("/api/projects/", HTTP_HOST="evil.example"), 400, "disallowed_host")
    page = client.get("/", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
    assert b"Bad request" in page.content


def test_a_crlf_in_an_id_is_a_404_not_a_header(client: Client) -> None:
    response = client.post("/projects/a%0d%0aX-Evil:%201/rename", {"name": "x"})
    assert response.status_code == 404
    assert "X-Evil" not in response
    assert not any("\n" in v for v in response.headers.values())
    api = client.get("/api/projects/a%0d%0ab/")
    error(api, 404, "not_found")
    assert "\n" not in api.json()["error"]["message"]


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        ("7", "", 7),
        ("²", "", 0),
        ("9" * 5000, "", 0),
        ("-3", "", 0),
        ("", "12", 12),
        ("", "١٢", 0),  # Arabic-Indic digits: isdigit() but not an event id
        (" 5 ", "", 5),
    ],
)
def test_last_event_id_is_parsed_strictly(header: str, query: str, expected: int) -> None:
    extra: dict[str, Any] = {"HTTP_LAST_EVENT_ID": header} if header else {}
    request = RequestFactory().get("/x", {"last_event_id": query} if query else {}, **extra)
    assert last_event_id(request) == expected


async def _read(response: Any) -> str:
    return b"".join([chunk async for chunk in response.streaming_content]).decode()


def test_sse_replays_from_zero_for_a_bad_last_event_id(
    staff_user: Any, workspace: Any, redis_client: Any
) -> None:
    from apps.core import services

    job = services.job_submit("selftest", {"steps": 1})
    services.job_cancel(job.id)
    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    for bad in ("²", "9" * 5000):
        response = client.get(f"/api/jobs/{job.id}/events", HTTP_LAST_EVENT_ID=bad)
        assert response.status_code == 200
        text = async_to_sync(_read)(response)
        assert "event: queued" in text  # replayed from the start
    assert job_store.load(workspace, job.id).status.terminal
