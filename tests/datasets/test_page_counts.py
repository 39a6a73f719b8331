"""The Dataset page's sidebar counts follow the subset filter; ``?class=`` by name or id
selects the same class (server side; the browser side is in test_browser.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.datasets import selectors
from tests.datasets.helpers import class_tree

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(project: Any, do_import: Any, import_dir: Path) -> Any:
    from apps.splits.services import split_create
    from studio.splits.schemas import SplitRatios

    do_import(class_tree(import_dir / "pets", {"cat": 20, "dog": 10, "bird": 5}))
    return split_create(project.id, SplitRatios(train=0.6, val=0.2, test=0.2), 1, "Main")


def by_name(project: Any, counts: dict[int | None, int]) -> dict[str, int]:
    names = {c.id: c.name for c in selectors.dataset_get(project.id).classes}
    return {names[k]: n for k, n in counts.items() if k is not None}


def test_class_counts_of_a_subset(project: Any, split: Any) -> None:
    assert by_name(project, selectors.class_counts(project.id)) == {"cat": 20, "dog": 10, "bird": 5}
    for subset in ("train", "val", "test"):
        counts = by_name(project, selectors.class_counts(project.id, split.id, subset))
        expected = {row.name: getattr(row, subset) for row in split.counts}
        assert counts == {k: v for k, v in expected.items() if v}
    assert selectors.class_counts(project.id, split.id, "unassigned") == {}


def test_page_and_grid_carry_the_subset_counts(user: Any, project: Any, split: Any) -> None:
    client = Client()
    client.force_login(user)
    url = f"/projects/{project.id}/dataset/"
    grid = client.get(f"{url}?in={split.id}:val", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="grid")
    found = re.search(r'id="side-counts" hidden data-counts="([^"]*)"', grid.content.decode())
    assert found, "the grid partial carries the sidebar counts"
    data = json.loads(found.group(1).replace("&quot;", '"'))
    assert data["total"] == split.sizes.val and data["subset"] == "Main · val"
    page = client.get(f"{url}?in={split.id}:val").content.decode()
    assert "Counts in Main · val" in page
    assert f"All classes ({split.sizes.val})" in page
    whole = client.get(url).content.decode()
    assert "Counts in the whole dataset" in whole and "All classes (35)" in whole
    # ?class=dog (a name) selects the same entry as its id, in the menu and the sidebar.
    dog = next(c.id for c in selectors.dataset_get(project.id).classes if c.name == "dog")
    named = client.get(f"{url}?class=dog").content.decode()
    assert f'data-class="{dog}"' in named
    assert re.search(rf'<option value="{dog}"[^>]*selected', named)
