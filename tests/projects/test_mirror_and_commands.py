"""The mirror can always be rebuilt from the workspace; the CLI does what the API does."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.projects.models import Project
from studio.storage.paths import Workspace

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_rebuild_mirror_gives_identical_lists(
    api: Any, staff_api: Any, workspace: Workspace
) -> None:
    for name in ("Alpha", "Beta", "Gamma"):
        api.post("/api/projects/", {"name": name, "task": "classification"}, format="json")
    broken = api.post(
        "/api/projects/", {"name": "Broken", "task": "classification"}, format="json"
    ).json()
    workspace.project_file(broken["id"]).write_text("[]")
    before = staff_api.get("/api/projects/").json()
    mine = api.get("/api/projects/").json()
    assert len(mine) == 4 and broken["id"] in {p["id"] for p in mine}  # flagged, still hers
    Project.objects.all().delete()  # as if the database file were deleted
    assert "Mirror rebuilt: 4 projects" in run("rebuild_mirror")
    assert staff_api.get("/api/projects/").json() == before
    # Memberships come back from project.json; a damaged file has none to give (staff-only).
    assert api.get("/api/projects/").json() == [p for p in mine if p["id"] != broken["id"]]


def test_mirror_forgets_projects_removed_on_disk(api: Any, workspace: Workspace) -> None:
    import shutil

    p = api.post("/api/projects/", {"name": "Gone", "task": "classification"}, format="json").json()
    shutil.rmtree(workspace.project_dir(p["id"]))
    assert api.get("/api/projects/").json() == []
    assert not Project.objects.filter(id=p["id"]).exists()


def test_cli_create_list_rename_delete_restore_purge(workspace: Workspace) -> None:
    line = run("create_project", "Digits", "--task", "classification")
    pid = line.split("\t")[0]
    assert "Digits" in run("list_projects")
    assert "Digits two" in run("rename_project", pid, "Digits two")
    entry = run("delete_project", pid).strip().rsplit(" ", 1)[-1]
    assert run("list_projects") == ""
    assert entry in run("restore_project")
    assert "Restored" in run("restore_project", entry)
    assert "Digits two" in run("list_projects")
    run("delete_project", pid)
    assert "Purged 1" in run("purge_trash")
    assert list(workspace.trash_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create_project", "  "), "needs a name"),
        (("create_project", "X", "--task", "painting"), "Unknown task"),
        (("rename_project", "nope", "Y"), "No project"),
        (("delete_project", "nope"), "No project"),
        (("restore_project", "nope--1"), "Nothing called"),
    ],
)
def test_cli_errors_are_sentences(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command(*args)


def test_export_schemas_writes_every_schema(tmp_path: Any) -> None:
    import json

    from studio.schema_index import ALL_SCHEMAS

    run("export_schemas", "--out", str(tmp_path))
    for name in ALL_SCHEMAS:
        schema = json.loads((tmp_path / f"{name}.schema.json").read_text())
        assert "properties" in schema
