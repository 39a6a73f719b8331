"""Fixtures of the dataset tests: a project, and a way to import a folder in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.storage.dataset_schemas import ImportReport


@pytest.fixture
def project(db: Any, user: Any) -> Any:
    from apps.projects.services import project_create

    return project_create("Pets", "classification", owner=user.username)


@pytest.fixture
def regression_project(db: Any, user: Any) -> Any:
    from apps.projects.services import project_create

    return project_create("Ages", "regression", owner=user.username)


@pytest.fixture
def anomaly_project(db: Any, user: Any) -> Any:
    from apps.projects.services import project_create

    return project_create("Scratches", "anomaly_detection", owner=user.username)


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


def grant_server_folders(user: Any) -> Any:
    """Give ``user`` the permission to import server folders (staff have it implicitly)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="datasets", codename="import_server_folder")
    )
    for cache in ("_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


@pytest.fixture
def import_dir(workspace: Any) -> Path:
    """``<workspace>/import/``: the default (and here the only) root of server-folder imports."""
    return Path(workspace.import_dir)


@pytest.fixture
def folder_api(api: Any, user: Any) -> Any:
    """``api`` (alice, not staff) with the permission to import server folders."""
    grant_server_folders(user)
    return api
