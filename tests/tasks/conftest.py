"""Fixtures of the end-to-end task tests: a server warmed up before the browser asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def warm_server(live_server_url: str) -> str:
    """The first request makes Daphne import every app; do it with a patient client before
    the browser's 15 s page timeout applies."""
    import urllib.request

    urllib.request.urlopen(f"{live_server_url}/login/", timeout=180).read()
    return live_server_url


@pytest.fixture(autouse=True)
def server_folder_imports(request: Any, settings: Any, tmp_path: Path) -> None:
    """The flows import generated folders from ``tmp_path`` as the (non-staff) test user:
    make it an import root and grant that user the permission to import server folders."""
    settings.STUDIO_IMPORT_ROOTS = [str(tmp_path)]
    if "user" in request.fixturenames:
        from tests.datasets.conftest import grant_server_folders

        grant_server_folders(request.getfixturevalue("user"))
