"""Split reads. Lists come from the mirror (synced first); one split from its JSON.

``subset_filter`` is the hook other apps (the dataset grid, the images API) use to
restrict an image queryset to one subset of a split.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from apps.core.workspace import ws
from apps.splits.mirror import mirror_split, splits_sync
from apps.splits.models import Split, SplitMembership
from studio.errors import NotFound, ValidationFailed
from studio.splits import manager, store
from studio.splits.schemas import SUBSETS, SplitFile
from studio.storage import project_store
from studio.storage.paths import check_id

M = TypeVar("M", bound=Model)


def split_list(project_id: str) -> QuerySet[Split]:
    """The project's splits, oldest first (404 for an unknown project)."""
    project_store.load(ws(), project_id)
    splits_sync(project_id)
    return Split.objects.filter(project_id=project_id)


def split_get(project_id: str, split_id: str) -> SplitFile:
    """The split file (404 unknown, 409 damaged); the mirror row is refreshed on the way."""
    project_store.load(ws(), project_id)
    check_id(split_id, "split")
    found = store.inspect(ws(), project_id, split_id)
    if found.mtime_ns == 0:
        Split.objects.filter(id=split_id).delete()
    else:
        mirror_split(project_id, found)
    return store.load(ws(), project_id, split_id)


def split_status(split: SplitFile) -> manager.SplitStatus:
    return manager.split_status(ws(), split)


def subset_image_ids(split_id: str, subset: str) -> QuerySet[SplitMembership, Any]:
    """Image ids of one subset of a split (a subquery; indexed on (split, subset, image_id))."""
    if subset not in SUBSETS:
        raise ValidationFailed(
            f"Unknown subset {subset!r}: use train, val or test",
            details={"subset": ["Choose one of: train, val, test"]},
        )
    return SplitMembership.objects.filter(split_id=split_id, subset=subset).values("image_id")


def subset_filter(
    images: QuerySet[M], project_id: str, split_id: str, subset: str, field: str = "id"
) -> QuerySet[M]:
    """Restrict an image queryset to ``subset`` (``train``/``val``/``test``, or
    ``unassigned`` = not in the split) of ``split_id``; ``field`` is the image id column.

    404 when the split is not one of the project's; 400 for an unknown subset.
    """
    check_id(split_id, "split")
    splits_sync(project_id)
    if not Split.objects.filter(id=split_id, project_id=project_id, damaged=False).exists():
        raise NotFound(f"No split {split_id!r} in this project", details={"split_id": split_id})
    if subset == "unassigned":
        members = SplitMembership.objects.filter(split_id=split_id).values("image_id")
        return images.exclude(**{f"{field}__in": members})
    return images.filter(**{f"{field}__in": subset_image_ids(split_id, subset)})
