"""The Content-Security-Policy header: on pages, errors, the API, static files; no inline script."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from apps.core.csp import HEADER, POLICY

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def directives() -> dict[str, str]:
    return dict(d.split(" ", 1) for d in POLICY.split("; "))


def test_the_policy_allows_scripts_from_studio_only() -> None:
    d = directives()
    assert d["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert d["object-src"] == "'none'" and d["frame-ancestors"] == "'none'"
    assert d["base-uri"] == "'self'" and d["form-action"] == "'self'"
    assert "unsafe-eval" not in POLICY


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login/", 200),
        ("/", 200),
        ("/profile/", 200),
        ("/admin/", 200),
        ("/no/such/page/", 404),
        ("/api/projects/", 200),
        ("/api/tasks/?format=api", 200),
        ("/api/docs/", 200),
    ],
)
def test_every_response_carries_the_policy(admin_client: Any, path: str, status: int) -> None:
    response = admin_client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == status
    assert response[HEADER] == POLICY


def test_anonymous_and_error_responses_carry_it_too(client: Any) -> None:
    assert client.get("/")[HEADER] == POLICY  # the redirect to the login page
    assert client.get("/api/projects/")[HEADER] == POLICY  # 401 JSON


def test_templates_have_no_inline_script_or_event_handler() -> None:
    """The policy would block them: every script is a file under /static/."""
    templates = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("apps/*/templates/**/*.html")]
    assert templates
    for path in templates:
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), path  # onclick=, onload=, …
        assert not re.search(r"\s(x-html|hx-on[:-]?[\w:-]*)\s*=", text), path
