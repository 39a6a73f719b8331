"""Split writes: the workspace JSON first (``studio.splits.manager``, locked), then the mirror."""

from __future__ import annotations

from apps.core.workspace import ws
from apps.splits.mirror import forget_split, mirror_split, rebuild_all
from studio.splits import manager, store
from studio.splits.planner import SplitPlan
from studio.splits.schemas import SplitFile, SplitRatios
from studio.storage import project_store


def split_preview(project_id: str, ratios: SplitRatios, seed: int) -> SplitPlan:
    """What a split with these settings would be now; writes nothing (no file, no row)."""
    project = project_store.load(ws(), project_id)
    return manager.preview(ws(), project, ratios, seed)


def split_create(project_id: str, ratios: SplitRatios, seed: int, name: object = None) -> SplitFile:
    project = project_store.load(ws(), project_id)
    split = manager.create(ws(), project, ratios, seed, name)
    mirror_split(project_id, store.inspect(ws(), project_id, split.id))
    return split


def split_rename(project_id: str, split_id: str, name: object) -> SplitFile:
    """The only change a saved split accepts."""
    project_store.load(ws(), project_id)
    split = manager.rename(ws(), project_id, split_id, name)
    mirror_split(project_id, store.inspect(ws(), project_id, split_id))
    return split


def split_delete(project_id: str, split_id: str) -> None:
    """Delete an unused split (409 ``split_in_use`` while an experiment names it)."""
    project_store.load(ws(), project_id)
    manager.delete(ws(), project_id, split_id)
    forget_split(split_id)


def mirror_rebuild() -> int:
    """Drop every split row and membership, reload them from the workspace; returns the count."""
    return rebuild_all()
