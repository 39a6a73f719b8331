"""A request body is refused before it is read: anonymous → 401, too large → 413 (real Daphne)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import pytest
from rest_framework.authtoken.models import Token

from tests.conftest import TEST_PASSWORD

GIB = 1024**3


def raw_request(
    base_url: str, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, Any], float]:
    """Send the head and ``body`` (only part of what Content-Length claims); read the answer.

    Returns the status, the JSON body and the seconds it took. Fails (timeout) when the
    server waits for the rest of the body before it answers — the old behaviour.
    """
    url = urlparse(base_url)
    head = f"{method} {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    elapsed = time.monotonic() - started
    status = int(data.split(b" ", 2)[1])
    payload = data.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(payload) if payload.strip() else {}, elapsed


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 62


@pytest.fixture
def token(user: Any) -> str:
    return Token.objects.create(user=user).key


def test_anonymous_gigabyte_post_is_refused_before_the_body(live_server_url: str) -> None:
    status, body, elapsed = raw_request(
        live_server_url,
        "POST",
        "/api/projects/",
        {"Content-Type": "application/json", "Content-Length": str(GIB)},
        b"x" * 4096,
    )
    assert status == 401
    assert body["error"]["code"] == "not_authenticated"
    assert elapsed < 5


def test_anonymous_upload_is_refused_before_the_body(live_server_url: str) -> None:
    status, body, _ = raw_request(
        live_server_url,
        "POST",
        "/api/datasets/p1/import",
        {"Content-Type": "multipart/form-data; boundary=xx", "Content-Length": str(GIB)},
        b"--xx\r\n" + b"x" * 4096,
    )
    assert (status, body["error"]["code"]) == (401, "not_authenticated")


def test_a_made_up_token_is_checked_before_a_large_body(live_server_url: str) -> None:
    status, body, elapsed = raw_request(
        live_server_url,
        "POST",
        "/api/datasets/p1/import",
        {
            "Authorization": "Token 0123456789abcdef0123456789abcdef01234567",
            "Content-Type": "multipart/form-data; boundary=xx",
            "Content-Length": str(100 * 1024 * 1024),
        },
        b"--xx\r\n" + b"x" * 4096,
    )
    assert (status, body["error"]["code"]) == (401, "not_authenticated")
    assert elapsed < 5


def test_an_oversized_json_body_is_413_before_the_body(live_server_url: str, token: str) -> None:
    status, body, elapsed = raw_request(
        live_server_url,
        "POST",
        "/api/projects/",
        {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Content-Length": str(10 * 1024 * 1024),
        },
        b'{"name": "' + b"x" * 4096,
    )
    assert status == 413
    assert body["error"]["code"] == "request_too_large"
    assert body["error"]["details"]["max_bytes"] == 1024 * 1024
    assert elapsed < 5


def test_an_oversized_chunked_body_is_413(live_server_url: str, token: str) -> None:
    chunk = b"x" * 65536
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 20  # 1.25 MiB, no Content-Length
    status, payload, _ = raw_request(
        live_server_url,
        "POST",
        "/api/projects/",
        {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        body,
    )
    assert (status, payload["error"]["code"]) == (413, "request_too_large")


def test_normal_requests_still_work(live_server_url: str, token: str, user: Any) -> None:
    import requests

    created = requests.post(
        f"{live_server_url}/api/projects/",
        json={"name": "Digits", "task": "classification"},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    # A 3 MiB upload to predict is above the JSON cap but inside its own: it reaches the view.
    predicted = requests.post(
        f"{live_server_url}/api/predict/nope/nope",
        files={"image": ("a.png", b"x" * (3 * 1024 * 1024), "image/png")},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    assert predicted.status_code == 404, predicted.text
    # The login form is the one anonymous POST.
    session = requests.Session()
    session.get(f"{live_server_url}/login/", timeout=30)
    login = session.post(
        f"{live_server_url}/login/",
        data={
            "username": user.username,
            "password": TEST_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{live_server_url}/login/"},
        timeout=30,
        allow_redirects=False,
    )
    assert login.status_code == 302


def test_the_asgi_guard_refuses_without_reading(settings: Any) -> None:
    """Under any ASGI server: the wrapped app is never called, ``receive`` never awaited."""
    from apps.core.asgi_guard import RequestGuard

    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append("app")

    async def receive() -> dict[str, Any]:
        called.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/projects/",
        "headers": [(b"content-length", str(GIB).encode())],
    }
    # a thread of its own: a browser test may have left an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, RequestGuard(app)(scope, receive, send)).result()
    assert called == []
    assert sent[0]["status"] == 401
    assert json.loads(sent[1]["body"])["error"]["code"] == "not_authenticated"
