"""Fixtures of the end-to-end task tests: a server warmed up before the browser asks."""

from __future__ import annotations

import pytest


@pytest.fixture
def warm_server(live_server_url: str) -> str:
    """The first request makes Daphne import every app; do it with a patient client before
    the browser's 15 s page timeout applies."""
    import urllib.request

    urllib.request.urlopen(f"{live_server_url}/login/", timeout=180).read()
    return live_server_url
