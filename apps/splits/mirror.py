"""Keeping the split mirror equal to the workspace.

``splits_sync(project_id)`` compares each split file's mtime with the mirror and re-reads
only what changed. Memberships are (re)loaded in bulk only when a split is new to the
mirror or its membership count is off: assignments never change on disk, so a rename
(which moves the mtime) only updates the ``Split`` row.
"""

from __future__ import annotations

import contextlib

from django.db import transaction

from apps.core.workspace import ws
from apps.splits.models import Split, SplitMembership
from studio.errors import StudioError
from studio.splits import store
from studio.splits.store import SplitOnDisk

BATCH = 2000


def mirror_split(project_id: str, found: SplitOnDisk) -> None:
    """Write one split (valid or damaged) into the mirror."""
    with transaction.atomic():
        if found.split is None:
            Split.objects.update_or_create(
                id=found.id,
                defaults={"project_id": project_id, "name": found.id, "damaged": True,
                          "damage_reason": found.damage, "json_mtime_ns": found.mtime_ns},
            )  # fmt: skip
            SplitMembership.objects.filter(split_id=found.id).delete()
            return
        s = found.split
        row, _ = Split.objects.update_or_create(
            id=s.id,
            defaults={"project_id": project_id, "name": s.name, "task": s.task,
                      "strategy": s.strategy, "seed": s.seed, "ratio_train": s.ratios.train,
                      "ratio_val": s.ratios.val, "ratio_test": s.ratios.test,
                      "image_count": s.image_count, "train_count": s.sizes.train,
                      "val_count": s.sizes.val, "test_count": s.sizes.test,
                      "created_at": s.created_at, "damaged": False, "damage_reason": "",
                      "json_mtime_ns": found.mtime_ns},
        )  # fmt: skip
        members = SplitMembership.objects.filter(split=row)
        if members.count() != len(s.assignments):
            members.delete()
            SplitMembership.objects.bulk_create(
                (
                    SplitMembership(split=row, image_id=i, subset=sub)
                    for i, sub in s.assignments.items()
                ),
                batch_size=BATCH,
                ignore_conflicts=True,  # another process may be loading the same split
            )


def splits_sync(project_id: str, full: bool = False) -> int:
    """Bring the project's split rows in line with disk; returns how many rows changed."""
    known = dict(Split.objects.filter(project_id=project_id).values_list("id", "json_mtime_ns"))
    on_disk = store.mtimes(ws(), project_id)
    changed = 0
    for sid, mtime in sorted(on_disk.items()):
        if full or known.get(sid, -1) != mtime:
            mirror_split(project_id, store.inspect(ws(), project_id, sid))
            changed += 1
    gone = set(known) - set(on_disk)
    if gone:
        Split.objects.filter(id__in=gone).delete()
        changed += len(gone)
    return changed


def forget_split(split_id: str) -> None:
    Split.objects.filter(id=split_id).delete()


def rebuild_all() -> int:
    """Drop every split row (and membership) and reload all projects; returns the split count."""
    Split.objects.all().delete()
    root = ws().projects_dir
    if root.exists():
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                with contextlib.suppress(StudioError):  # e.g. a folder name that is no id
                    splits_sync(folder.name, full=True)
    return Split.objects.count()
