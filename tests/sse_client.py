"""A tiny SSE reader for tests: reads a stream over real HTTP until the server closes it."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


def read_sse(
    url: str, token: str, last_event_id: int | None = None, timeout: float = 60
) -> list[dict[str, Any]]:
    """Every event of the stream, as ``{"id", "event", "data"}`` dicts, in order."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    headers = {"Authorization": f"Token {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        raise AssertionError(f"SSE answered {response.status}: {response.read()[:300]!r}")
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    while True:
        raw = response.readline()
        if not raw:
            break
        line = raw.decode().rstrip("\n")
        if not line:
            if "data" in current:
                current["data"] = json.loads(current["data"])
                events.append(current)
            current = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(": ")
            if field in ("id", "event", "data"):
                current[field] = int(value) if field == "id" else value
    conn.close()
    return events
