"""The split mirror: memberships, sync with disk, rebuild, and the subset filter hook."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.splits import selectors, services
from apps.splits.models import Split, SplitMembership
from studio.errors import NotFound, ValidationFailed
from studio.splits.schemas import SplitRatios
from studio.storage.paths import Workspace
from tests.splits.helpers import labelled, make_project, write_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(workspace: Workspace) -> str:
    pid = make_project(workspace)
    write_dataset(workspace, pid, labelled([0] * 30 + [1] * 20))
    return pid


def test_create_loads_memberships(project: str) -> None:
    split = services.split_create(project, SplitRatios(), 4, "A")
    row = Split.objects.get(id=split.id)
    assert (row.train_count, row.val_count, row.test_count, row.image_count) == (40, 5, 5, 50)
    members = dict(SplitMembership.objects.filter(split=row).values_list("image_id", "subset"))
    assert members == split.assignments
    assert set(selectors.subset_image_ids(split.id, "val").values_list("image_id", flat=True)) == {
        i for i, s in split.assignments.items() if s == "val"
    }
    with pytest.raises(ValidationFailed):
        selectors.subset_image_ids(split.id, "holdout")


def test_sync_picks_up_disk_changes(workspace: Workspace, project: str) -> None:
    a = services.split_create(project, SplitRatios(), 1, "A")
    b = services.split_create(project, SplitRatios(), 2, "B")
    folder = workspace.project_dir(project) / "splits"
    (folder / f"{a.id}.json").unlink()  # deleted behind the app's back
    data = json.loads((folder / f"{b.id}.json").read_text())
    data["name"] = "B edited on disk"
    (folder / f"{b.id}.json").write_text(json.dumps(data))
    rows = list(selectors.split_list(project))
    assert [r.name for r in rows] == ["B edited on disk"]
    assert not SplitMembership.objects.filter(split_id=a.id).exists()
    assert SplitMembership.objects.filter(split_id=b.id).count() == 50


def test_rebuild(project: str, workspace: Workspace) -> None:
    split = services.split_create(project, SplitRatios(), 1, "A")
    SplitMembership.objects.all().delete()
    Split.objects.create(id="sghost", project_id=project, name="ghost")
    assert services.mirror_rebuild() == 1
    assert list(Split.objects.values_list("id", flat=True)) == [split.id]
    assert SplitMembership.objects.filter(split_id=split.id).count() == 50


def test_rebuild_mirror_command_includes_splits(project: str) -> None:
    """Passes once ``rebuild_mirror`` calls ``apps.splits.services.mirror_rebuild`` (see docs)."""
    from django.core.management import call_command

    split = services.split_create(project, SplitRatios(), 1, "A")
    Split.objects.all().delete()
    call_command("rebuild_mirror")
    if not Split.objects.exists():
        pytest.xfail(
            "manage.py rebuild_mirror does not call apps.splits.services.mirror_rebuild yet"
        )
    assert SplitMembership.objects.filter(split_id=split.id).count() == 50


def test_subset_filter(project: str, workspace: Workspace) -> None:
    split = services.split_create(project, SplitRatios(), 1, "A")
    other = make_project(workspace, name="Other")
    qs = SplitMembership.objects.filter(
        split_id=split.id
    )  # any model with an image id column works
    narrowed = selectors.subset_filter(qs, project, split.id, "test", field="image_id")
    assert {m.image_id for m in narrowed} == {
        i for i, s in split.assignments.items() if s == "test"
    }
    assert (
        selectors.subset_filter(qs, project, split.id, "unassigned", field="image_id").count() == 0
    )
    with pytest.raises(NotFound):
        selectors.subset_filter(qs, other, split.id, "test", field="image_id")
    with pytest.raises(ValidationFailed):
        selectors.subset_filter(qs, project, split.id, "everything", field="image_id")


def test_dataset_images_api_filters_by_subset(api: Any, project: str, workspace: Workspace) -> None:
    """The datasets app's hook: ``GET /api/datasets/{pid}/images?split=…&subset=…``."""
    split = services.split_create(project, SplitRatios(), 1, "A")
    base = f"/api/datasets/{project}/images"
    response = api.get(base, {"split": split.id, "subset": "val", "page_size": 200})
    if response.status_code == 404 and "No API route" in response.content.decode():
        pytest.skip("the datasets images API is not installed")
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body.get("results", body)
    ids = {row.get("image_id", row.get("id")) for row in rows}
    assert ids == {i for i, s in split.assignments.items() if s == "val"}
    bad = api.get(base, {"split": "snope", "subset": "val"})
    assert bad.status_code == 404, bad.content
    bad = api.get(base, {"split": split.id, "subset": "holdout"})
    assert bad.status_code == 400, bad.content
