"""Security defaults: login required, per-workspace secret key, deploy checks pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_secret_key_is_per_workspace_and_private() -> None:
    key_file = Path(os.environ["STUDIO_WORKSPACE"]) / ".secrets" / "secret_key"
    assert key_file.read_text().strip() == settings.SECRET_KEY
    assert len(settings.SECRET_KEY) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_allowed_hosts_are_loopback_only() -> None:
    # pytest-django adds "testserver" for the test client.
    assert set(settings.ALLOWED_HOSTS) - {"testserver"} == {"127.0.0.1", "localhost", "[::1]"}


@pytest.mark.django_db
def test_foreign_host_header_is_refused(client: Any) -> None:
    assert client.get("/login/", HTTP_HOST="evil.example").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/profile/", "/projects/abc/dataset/", "/admin/"])
def test_pages_require_login(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_csrf_is_enforced(user: Any) -> None:
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(user)
    assert c.post("/projects/new", {"name": "x", "task": "classification"}).status_code == 403


@pytest.mark.django_db
def test_profile_shows_and_rotates_token(client: Any, user: Any) -> None:
    from rest_framework.authtoken.models import Token

    client.force_login(user)
    first = client.get("/profile/")
    key = Token.objects.get(user=user).key
    assert key in first.content.decode()
    client.post("/profile/")
    assert Token.objects.get(user=user).key != key


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings_production",
        "STUDIO_WORKSPACE": str(tmp_path / "ws"),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for Playwright in the test process only
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
