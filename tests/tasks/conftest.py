"""Fixtures of the end-to-end task tests: offline weights cache, an API token for SSE."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network and an empty weights cache (workers inherit the environment)."""
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    return home


@pytest.fixture
def warm_server(live_server_url: str) -> str:
    """The first request makes Daphne import every app; do it with a patient client before
    the browser's 15 s page timeout applies."""
    import urllib.request

    urllib.request.urlopen(f"{live_server_url}/login/", timeout=180).read()
    return live_server_url
