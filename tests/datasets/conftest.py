"""Fixtures of the dataset tests: a project, and a way to import a folder in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.storage.dataset_schemas import ImportReport


@pytest.fixture
def project(db: Any) -> Any:
    from apps.projects.services import project_create

    return project_create("Pets", "classification")


@pytest.fixture
def regression_project(db: Any) -> Any:
    from apps.projects.services import project_create

    return project_create("Ages", "regression")


@pytest.fixture
def anomaly_project(db: Any) -> Any:
    from apps.projects.services import project_create

    return project_create("Scratches", "anomaly_detection")


@pytest.fixture
def do_import(project: Any) -> Callable[..., ImportReport]:
    """Import ``path`` with ``fmt`` into ``project`` (or ``project_id``) in this process."""
    from apps.datasets.services import import_inline

    def run(
        path: Path | str,
        fmt: str = "class_folders",
        annotations: str = "",
        project_id: str | None = None,
    ) -> ImportReport:
        return import_inline(project_id or project.id, str(path), fmt, annotations)

    return run


@pytest.fixture
def warm_live_server(live_server_url: str) -> str:
    """The live server after its first page (the URL conf import can take long on a busy machine)."""
    import urllib.request

    urllib.request.urlopen(f"{live_server_url}/login/", timeout=180).read()
    return live_server_url
