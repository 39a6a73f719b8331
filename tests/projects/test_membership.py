"""Project membership: who may see and change a project, on every route, by role.

The enumerating test walks the whole URL map, so a new endpoint that forgets the access
check (or takes a project-scoped id under a new name) fails here until it is covered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.core.services import mirror_job
from apps.projects import access
from apps.projects.models import ProjectMember
from studio.storage import job_store
from studio.storage.paths import Workspace
from studio.storage.schemas import JobStatus, utcnow
from tests.conftest import TEST_PASSWORD
from tests.projects.test_api import assert_error, create

pytestmark = pytest.mark.django_db

# Routes that name no project (directly or through a job) and may be requested by anyone
# logged in. Lists among them filter by membership (tested below). A new route must either
# take ``project_id`` / ``job_id`` or be added here on purpose.
ALLOWED_WITHOUT_PROJECT = {
    "",  # project list (filtered)
    "login/",
    "logout/",
    "profile/",
    "password/",  # your own password
    "favicon.ico",  # a redirect to the static icon, no data
    "projects/new",  # creating makes you the owner
    "api/",  # index of route templates, no data
    "api/projects/",  # list (filtered) and create
    "api/jobs/",  # list (filtered)
    "api/tasks/",
    "api/schema/",
    "api/docs/",
}
ALLOWED_PREFIXES = ("admin/",)  # Django admin: staff only, read-only mirror
PROJECT_KWARGS = {"project_id", "job_id"}


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full route, pattern) for every leaf of the URL map."""
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def _user(django_user_model: Any, name: str, **extra: Any) -> Any:
    return django_user_model.objects.create_user(name, password=TEST_PASSWORD, **extra)


@pytest.fixture
def alice_project(api: Any) -> dict[str, Any]:
    return create(api, "Secret")


@pytest.fixture
def alice_job(alice_project: dict[str, Any], workspace: Workspace) -> str:
    """A finished job of alice's project (finished: an SSE stream that leaked would end)."""
    job = job_store.create(workspace, "selftest", {}, alice_project["id"])

    def finish(j: Any) -> bool:
        j.status, j.finished_at = JobStatus.cancelled, utcnow()
        return True

    mirror_job(job_store.mutate(workspace, job.id, finish))
    return job.id


@pytest.fixture
def mallory(django_user_model: Any) -> Any:
    return _user(django_user_model, "mallory")


@pytest.fixture
def as_mallory(mallory: Any) -> Client:
    client = Client()
    client.force_login(mallory)
    return client


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Project ids whose access was checked (every transport ends in ``project_role``)."""
    seen: list[str] = []
    real = access.project_role

    def project_role(user: Any, project_id: str) -> Any:
        seen.append(project_id)
        return real(user, project_id)

    monkeypatch.setattr(access, "project_role", project_role)
    return seen


def test_every_route_refuses_a_non_member(
    as_mallory: Client, alice_project: dict[str, Any], alice_job: str, spy: list[str]
) -> None:
    pid = alice_project["id"]
    # Ids of things inside the project: fake but well formed is enough, as access is
    # checked before any lookup (and the spy proves that the check ran for this project).
    values = {"project_id": pid, "job_id": alice_job, "section": "dataset",
              "username": "alice"}  # fmt: skip
    covered, unknown = [], []
    for route, _pattern in walk(get_resolver().url_patterns):
        names = set(re.findall(r"<(?:\w+:)?(\w+)>", route))
        if not names & PROJECT_KWARGS:
            if route not in ALLOWED_WITHOUT_PROJECT and not route.startswith(ALLOWED_PREFIXES):
                unknown.append(route)
            continue
        url = "/" + re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), f"x{m.group(1)[:3]}1"), route
        )
        methods = ["get", "post"] + (["put", "patch", "delete"] if route.startswith("api/") else [])
        for method in methods:
            spy.clear()
            response = getattr(as_mallory, method)(url)
            assert response.status_code == 404, f"{method.upper()} {url}: {response.status_code}"
            assert pid in spy, f"{method.upper()} {url} answered without the access check"
            if route.startswith("api/"):
                message = assert_error(response, 404, "not_found")["message"]
                assert message in (f"No project {pid!r}", f"No job {alice_job!r}")
        covered.append(route)
    assert not unknown, f"routes neither project-scoped nor allow-listed: {unknown}"
    assert len(covered) >= 30  # the map was really walked
    assert "api/jobs/<str:job_id>/events" in covered
    assert "api/experiments/<str:project_id>/<str:experiment_id>/events" in covered


def test_lists_do_not_leak(
    as_mallory: Client, api: Any, alice_project: dict[str, Any], alice_job: str
) -> None:
    assert as_mallory.get("/api/projects/").json() == []
    assert as_mallory.get("/api/jobs/").json() == []
    assert as_mallory.get(f"/api/jobs/?project={alice_project['id']}").json() == []
    page = as_mallory.get("/")
    assert page.status_code == 200 and b"Secret" not in page.content
    # alice herself sees both
    assert [p["id"] for p in api.get("/api/projects/").json()] == [alice_project["id"]]
    assert [j["id"] for j in api.get("/api/jobs/").json()] == [alice_job]


def test_sse_token_of_a_non_member_is_404(
    mallory: Any, alice_project: dict[str, Any], alice_job: str
) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=mallory).key
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for url in (
        f"/api/jobs/{alice_job}/events",
        f"/api/experiments/{alice_project['id']}/e1/events",
    ):
        assert_error(client.get(url), 404, "not_found")
    assert_error(Client().get(f"/api/jobs/{alice_job}/events"), 401, "not_authenticated")


def test_viewer_reads_but_cannot_change(
    api: Any, django_user_model: Any, alice_project: dict[str, Any], alice_job: str
) -> None:
    pid = alice_project["id"]
    bob = _user(django_user_model, "bob")
    assert (
        api.put(f"/api/projects/{pid}/members/bob", {"role": "viewer"}, format="json").status_code
        == 200
    )
    client = Client()
    client.force_login(bob)
    for url in (f"/api/projects/{pid}/", f"/api/datasets/{pid}/", f"/api/splits/{pid}/",
                f"/api/experiments/{pid}/", f"/api/projects/{pid}/members",
                f"/api/jobs/{alice_job}/", f"/projects/{pid}/dataset/"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert [p["id"] for p in client.get("/api/projects/").json()] == [pid]
    assert [j["id"] for j in client.get("/api/jobs/").json()] == [alice_job]
    # the job's SSE stream (the job is finished, so the stream ends)
    stream = client.get(f"/api/jobs/{alice_job}/events")
    assert stream.status_code == 200 and stream["Content-Type"] == "text/event-stream"
    for url in (f"/api/datasets/{pid}/import", f"/api/splits/{pid}/",
                f"/api/splits/{pid}/preview", f"/api/experiments/{pid}/",
                f"/api/jobs/{alice_job}/cancel"):  # fmt: skip
        error = assert_error(client.post(url, {}, content_type="application/json"), 403,
                             "permission_denied")  # fmt: skip
        assert error["details"] == {"role": "viewer", "required": "editor"}
    assert_error(client.patch(f"/api/projects/{pid}/", {"name": "X"}, "application/json"), 403,
                 "permission_denied")  # fmt: skip
    assert_error(client.delete(f"/api/projects/{pid}/"), 403, "permission_denied")
    # pages: a POST needs editor, rename/delete need owner; the error page says why
    for url in (f"/projects/{pid}/splits/s1/rename", f"/projects/{pid}/rename",
                f"/projects/{pid}/delete"):  # fmt: skip
        response = client.post(url, {"name": "X"})
        assert response.status_code == 403, url
        assert b"Your role in this project is viewer" in response.content


def test_editor_changes_data_but_not_the_project(
    api: Any, django_user_model: Any, alice_project: dict[str, Any]
) -> None:
    pid = alice_project["id"]
    _user(django_user_model, "carol")
    api.put(f"/api/projects/{pid}/members/carol", {"role": "editor"}, format="json")
    client = Client()
    client.force_login(django_user_model.objects.get(username="carol"))
    # Past the access check: the view answers (an empty dataset, a missing body…), never 403.
    for url in (f"/api/datasets/{pid}/import", f"/api/splits/{pid}/preview",
                f"/api/experiments/{pid}/"):  # fmt: skip
        response = client.post(url, {}, content_type="application/json")
        assert response.status_code == 400, (url, response.content)
    assert_error(client.patch(f"/api/projects/{pid}/", {"name": "X"}, "application/json"), 403,
                 "permission_denied")  # fmt: skip
    assert_error(client.delete(f"/api/projects/{pid}/"), 403, "permission_denied")
    assert_error(client.put(f"/api/projects/{pid}/members/carol", {"role": "owner"},
                            "application/json"), 403, "permission_denied")  # fmt: skip
    assert_error(client.delete(f"/api/projects/{pid}/members/alice"), 403, "permission_denied")
    assert client.post(f"/projects/{pid}/rename", {"name": "X"}).status_code == 403


def test_owner_and_staff_may_do_everything(
    api: Any, staff_api: Any, alice_project: dict[str, Any], alice_job: str
) -> None:
    pid = alice_project["id"]
    assert api.patch(f"/api/projects/{pid}/", {"name": "Renamed"}, format="json").status_code == 200
    # staff: not a member, still sees and manages everything
    assert [p["id"] for p in staff_api.get("/api/projects/").json()] == [pid]
    assert [j["id"] for j in staff_api.get("/api/jobs/").json()] == [alice_job]
    assert (
        staff_api.patch(f"/api/projects/{pid}/", {"name": "Staff"}, format="json").status_code
        == 200
    )
    members = staff_api.put(f"/api/projects/{pid}/members/ops", {"role": "viewer"}, format="json")
    assert members.json() == [{"username": "alice", "role": "owner"},
                              {"username": "ops", "role": "viewer"}]  # fmt: skip
    assert staff_api.delete(f"/api/projects/{pid}/members/ops").status_code == 204
    assert api.delete(f"/api/projects/{pid}/").status_code == 204
    assert_error(api.get(f"/api/projects/{pid}/"), 404, "not_found")


def test_owner_rename_and_delete_pages(client: Client, user: Any, api: Any) -> None:
    pid = create(api, "Mine")["id"]
    client.force_login(user)
    assert client.post(f"/projects/{pid}/rename", {"name": "Ours"}).status_code == 200
    assert api.get(f"/api/projects/{pid}/").json()["name"] == "Ours"
    assert client.post(f"/projects/{pid}/delete").status_code == 200


def test_projects_without_members_are_staff_only(
    api: Any, staff_api: Any, workspace: Workspace
) -> None:
    from studio.storage import project_store

    legacy = project_store.create(workspace, "Old", "classification")  # before membership
    assert api.get("/api/projects/").json() == []
    assert_error(api.get(f"/api/projects/{legacy.id}/"), 404, "not_found")
    assert [p["id"] for p in staff_api.get("/api/projects/").json()] == [legacy.id]
    # staff hand it to alice
    staff_api.put(f"/api/projects/{legacy.id}/members/alice", {"role": "owner"}, format="json")
    assert [p["id"] for p in api.get("/api/projects/").json()] == [legacy.id]


def test_members_api_rules(
    api: Any, django_user_model: Any, alice_project: dict[str, Any], workspace: Workspace
) -> None:
    pid = alice_project["id"]
    url = f"/api/projects/{pid}/members"
    assert api.get(url).json() == [{"username": "alice", "role": "owner"}]
    assert_error(api.put(f"{url}/nobody", {"role": "viewer"}, format="json"), 404, "not_found")
    _user(django_user_model, "dave")
    assert_error(api.put(f"{url}/dave", {"role": "admin"}, format="json"), 400,
                 "validation_error")  # fmt: skip
    assert_error(api.delete(f"{url}/dave"), 404, "not_found")  # not a member
    assert_error(api.delete(f"{url}/alice"), 409, "last_owner")
    assert_error(api.put(f"{url}/alice", {"role": "editor"}, format="json"), 409, "last_owner")
    api.put(f"{url}/dave", {"role": "owner"}, format="json")
    assert api.delete(f"{url}/alice").status_code == 204  # dave still owns it
    assert_error(api.get(url), 404, "not_found")  # alice is out
    # the JSON is the source of truth; the mirror follows it
    on_disk = workspace.project_file(pid).read_text()
    assert '"dave"' in on_disk and '"alice"' not in on_disk
    assert list(ProjectMember.objects.values_list("username", "role")) == [("dave", "owner")]


def test_openapi_documents_the_members_endpoints(api: Any) -> None:
    schema = api.get("/api/schema/?format=json").json()
    assert "put" in schema["paths"]["/api/projects/{project_id}/members/{username}"]
    assert "get" in schema["paths"]["/api/projects/{project_id}/members"]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_member_commands(user: Any, django_user_model: Any, workspace: Workspace) -> None:
    pid = run("create_project", "Cli", "--owner", "alice").split("\t")[0]
    _user(django_user_model, "erin")
    assert "erin is editor" in run("add_member", pid, "erin", "--role", "editor")
    assert dict(ProjectMember.objects.filter(project_id=pid).values_list("username", "role")) == {
        "alice": "owner", "erin": "editor"}  # fmt: skip
    assert "erin removed" in run("remove_member", pid, "erin")
    for args, sentence in [
        (("add_member", pid, "nobody"), "No user 'nobody'"),
        (("add_member", "pnope", "erin"), "No project 'pnope'"),
        (("remove_member", pid, "alice"), "last owner"),
        (("remove_member", pid, "erin"), "not a member"),
        (("create_project", "X", "--owner", "nobody"), "No user 'nobody'"),
    ]:
        with pytest.raises(CommandError, match=sentence):
            run(*args)
    # without --owner: staff only
    lone = run("create_project", "Lone").split("\t")[0]
    assert not ProjectMember.objects.filter(project_id=lone).exists()


def test_rebuild_mirror_restores_memberships(api: Any, django_user_model: Any) -> None:
    from apps.projects.models import Project

    pid = create(api, "Kept")["id"]
    _user(django_user_model, "frank")
    api.put(f"/api/projects/{pid}/members/frank", {"role": "viewer"}, format="json")
    before = list(ProjectMember.objects.values_list("project_id", "username", "role"))
    Project.objects.all().delete()  # cascades to the member rows
    assert not ProjectMember.objects.exists()
    run("rebuild_mirror")
    assert list(ProjectMember.objects.values_list("project_id", "username", "role")) == before
    assert len(before) == 2


def test_admin_shows_memberships(client: Client, django_user_model: Any, api: Any) -> None:
    pid = create(api, "Admin view")["id"]
    root = django_user_model.objects.create_superuser("root", password=TEST_PASSWORD)
    client.force_login(root)
    page = client.get(f"/admin/projects/project/{pid}/change/")
    assert page.status_code == 200 and b"alice" in page.content
