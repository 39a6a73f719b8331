"""Projects API: every endpoint, each error path, the error schema."""

from __future__ import annotations

from typing import Any

import pytest

from studio.storage.paths import Workspace

pytestmark = pytest.mark.django_db


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def create(api: Any, name: str = "Digits", task: str = "classification") -> dict[str, Any]:
    response = api.post("/api/projects/", {"name": name, "task": task}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_list_get_rename_delete(api: Any, workspace: Workspace) -> None:
    created = create(api, "  Digits   v1 ")
    assert created["name"] == "Digits v1"
    assert created["task"] == "classification"
    assert {"id", "name", "task", "created_at", "updated_at"} <= set(created)
    assert (workspace.project_file(created["id"])).exists()

    listed = api.get("/api/projects/").json()
    assert [p["id"] for p in listed] == [created["id"]]

    got = api.get(f"/api/projects/{created['id']}/").json()
    assert got["name"] == "Digits v1"

    renamed = api.patch(f"/api/projects/{created['id']}/", {"name": "Digits v2"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Digits v2"
    assert "Digits v2" in workspace.project_file(created["id"]).read_text()

    deleted = api.delete(f"/api/projects/{created['id']}/")
    assert deleted.status_code == 204
    assert api.get("/api/projects/").json() == []
    assert not workspace.project_dir(created["id"]).exists()
    trashed = list(workspace.trash_dir.iterdir())
    assert len(trashed) == 1 and trashed[0].name.startswith(created["id"] + "--")


def test_duplicate_name_is_409_case_insensitive(api: Any) -> None:
    create(api, "Cats")
    err = assert_error(
        api.post("/api/projects/", {"name": "cats", "task": "classification"}, format="json"),
        409,
        "duplicate_name",
    )
    assert "name" in err["details"]


def test_rename_to_taken_name_is_409(api: Any) -> None:
    create(api, "A")
    b = create(api, "B")
    assert_error(
        api.patch(f"/api/projects/{b['id']}/", {"name": "a"}, format="json"), 409, "duplicate_name"
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"task": "classification"}, "name"),
        ({"name": "", "task": "classification"}, "name"),
        ({"name": "x" * 101, "task": "classification"}, "name"),
        ({"name": "ok"}, "task"),
        ({"name": "ok", "task": "painting"}, "task"),
    ],
)
def test_create_validation_errors(api: Any, payload: dict[str, str], field: str) -> None:
    err = assert_error(api.post("/api/projects/", payload, format="json"), 400, "validation_error")
    assert field in err["details"]


def test_unavailable_task_is_refused(api: Any) -> None:
    err = assert_error(
        api.post(
            "/api/projects/", {"name": "Boxes", "task": "oriented_object_detection"}, format="json"
        ),
        400,
        "task_unavailable",
    )
    assert "task" in err["details"]


def test_task_cannot_change_and_empty_patch_refused(api: Any) -> None:
    p = create(api)
    assert_error(
        api.patch(f"/api/projects/{p['id']}/", {"task": "regression"}, format="json"),
        400,
        "validation_error",
    )
    assert_error(api.patch(f"/api/projects/{p['id']}/", {}, format="json"), 400, "validation_error")


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
@pytest.mark.parametrize("pid", ["nope", "..", "%2e%2e", "ABC"])
def test_unknown_project_is_404(api: Any, method: str, pid: str) -> None:
    response = getattr(api, method)(f"/api/projects/{pid}/", {"name": "x"}, format="json")
    assert_error(response, 404, "not_found")


def test_unknown_api_route_is_json_404(api: Any) -> None:
    assert_error(api.get("/api/nothing-here/"), 404, "not_found")


def test_malformed_json_is_400(api: Any) -> None:
    response = api.generic("POST", "/api/projects/", "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_method_not_allowed(api: Any) -> None:
    assert_error(api.put("/api/projects/", {}, format="json"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/projects/"),
        ("post", "/api/projects/"),
        ("get", "/api/projects/abc/"),
        ("patch", "/api/projects/abc/"),
        ("delete", "/api/projects/abc/"),
        ("get", "/api/tasks/"),
        ("get", "/api/jobs/"),
        ("get", "/api/jobs/abc/"),
        ("post", "/api/jobs/abc/cancel"),
        ("get", "/api/jobs/abc/events"),
        ("get", "/api/schema/"),
    ],
)
def test_anonymous_requests_are_refused(anon_api: Any, method: str, path: str) -> None:
    assert_error(getattr(anon_api, method)(path), 401, "not_authenticated")


def test_token_auth_works(user: Any, anon_api: Any) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user)
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert anon_api.get("/api/projects/").status_code == 200
    anon_api.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert_error(anon_api.get("/api/projects/"), 401, "authentication_failed")


def test_tasks_lists_all_seven(api: Any) -> None:
    tasks = api.get("/api/tasks/").json()
    assert len(tasks) == 7
    by_name = {t["name"]: t for t in tasks}
    assert by_name["classification"]["available"] is True
    assert by_name["oriented_object_detection"]["available"] is False


def test_damaged_project_is_listed_with_reason(api: Any, workspace: Workspace) -> None:
    good = create(api, "Good")
    bad = create(api, "Bad")
    workspace.project_file(bad["id"]).write_text("{ truncated")
    listed = {p["id"]: p for p in api.get("/api/projects/").json()}
    assert listed[good["id"]]["damaged"] is False
    assert listed[bad["id"]]["damaged"] is True
    assert "not valid JSON" in listed[bad["id"]]["damage_reason"]
    detail = api.get(f"/api/projects/{bad['id']}/")
    assert detail.status_code == 200 and detail.json()["damaged"] is True
    assert_error(
        api.patch(f"/api/projects/{bad['id']}/", {"name": "Fixed"}, format="json"), 409, "damaged"
    )


def test_project_edited_on_disk_shows_up(api: Any, workspace: Workspace) -> None:
    p = create(api, "Before")
    path = workspace.project_file(p["id"])
    path.write_text(path.read_text().replace("Before", "After"))
    assert api.get("/api/projects/").json()[0]["name"] == "After"


def test_openapi_schema_and_docs(api: Any) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/projects/" in schema.json()["paths"]
    assert api.get("/api/docs/").status_code == 200
