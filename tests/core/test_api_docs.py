"""The API index at /api/, and Swagger UI served from our own static files (offline)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


def test_api_root_lists_every_endpoint(api: Any) -> None:
    body = api.get("/api/").json()
    endpoints = body["endpoints"]
    assert endpoints["api-projects"] == "http://testserver/api/projects/"
    assert endpoints["api-project"] == "http://testserver/api/projects/{project_id}/"
    assert endpoints["api-dataset-import"] == "http://testserver/api/datasets/{project_id}/import"
    assert body["schema"] == "http://testserver/api/schema/"
    assert body["docs"] == "http://testserver/api/docs/"
    assert len(endpoints) >= 30


def test_api_root_needs_authentication(anon_api: Any) -> None:
    assert_error(anon_api.get("/api/"), 401, "not_authenticated")


def test_api_root_is_in_the_schema(api: Any) -> None:
    schema = api.get("/api/schema/?format=json").json()
    assert "get" in schema["paths"]["/api/"]


def test_docs_page_uses_local_files(api: Any) -> None:
    html = api.get("/api/docs/").content.decode()
    assert "cdn." not in html and "https://" not in html
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "/static/vendor/swagger-ui/favicon-32x32.png" in html
    assert "<script>" not in html  # the init script is a separate file (CSP script-src 'self')


@pytest.mark.browser
def test_docs_render_offline(logged_in_page: Any) -> None:
    from playwright.sync_api import expect

    page = logged_in_page
    outside: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(page.base_url):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{page.base_url}/api/docs/")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/projects/").first).to_be_visible()
    assert outside == []
