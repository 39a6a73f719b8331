"""Split files on disk: ``projects/<project_id>/splits/<split_id>.json``.

Files are written atomically (:func:`studio.storage.jsonio.write_json_atomic`) and
never rewritten except to change ``name``. ``splits/.lock`` serialises name checks.
An experiment uses a split when ``experiments/<id>/experiment.json`` holds its
``split_id``; those files are read loosely (any JSON object with that key).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from studio.errors import Damaged, NotFound, StudioError
from studio.splits.schemas import SplitFile
from studio.storage.jsonio import read_model, write_json_atomic
from studio.storage.paths import Workspace, check_id


@dataclass(frozen=True)
class SplitOnDisk:
    """What a scan of ``splits/`` finds: a valid split or a damaged one."""

    id: str
    mtime_ns: int
    split: SplitFile | None
    damage: str = ""


@dataclass(frozen=True)
class ExperimentRef:
    id: str
    name: str


def splits_dir(ws: Workspace, project_id: str) -> Path:
    return ws.project_dir(project_id) / "splits"


def splits_lock(ws: Workspace, project_id: str) -> Path:
    return splits_dir(ws, project_id) / ".lock"


def split_path(ws: Workspace, project_id: str, split_id: str) -> Path:
    return splits_dir(ws, project_id) / f"{check_id(split_id, 'split')}.json"


def inspect(ws: Workspace, project_id: str, split_id: str) -> SplitOnDisk:
    path = split_path(ws, project_id, split_id)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return SplitOnDisk(split_id, 0, None, "the split file is missing")
    try:
        split = read_model(path, SplitFile)
    except StudioError as exc:
        return SplitOnDisk(split_id, mtime, None, exc.message)
    if split.id != split_id or split.project_id != project_id:
        return SplitOnDisk(
            split_id, mtime, None, f"{path.name} names split {split.id!r} of {split.project_id!r}"
        )
    return SplitOnDisk(split_id, mtime, split)


def split_ids(ws: Workspace, project_id: str) -> list[str]:
    folder = splits_dir(ws, project_id)
    if not folder.is_dir():
        return []
    return sorted(
        e.name[: -len(".json")]
        for e in os.scandir(folder)
        if e.is_file() and e.name.endswith(".json") and not e.name.startswith(".")
    )


def mtimes(ws: Workspace, project_id: str) -> dict[str, int]:
    """Split id -> mtime of its file, without parsing anything."""
    folder = splits_dir(ws, project_id)
    out: dict[str, int] = {}
    for sid in split_ids(ws, project_id):
        try:
            out[sid] = (folder / f"{sid}.json").stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return out


def scan(ws: Workspace, project_id: str) -> list[SplitOnDisk]:
    """Every split of the project, parsed; damaged ones carry the reason instead of raising."""
    return [inspect(ws, project_id, sid) for sid in split_ids(ws, project_id)]


def load(ws: Workspace, project_id: str, split_id: str) -> SplitFile:
    check_id(split_id, "split")
    found = inspect(ws, project_id, split_id)
    if found.split is None:
        if found.mtime_ns == 0:
            raise NotFound(f"No split {split_id!r} in this project", details={"split_id": split_id})
        raise Damaged(
            f"Split {split_id!r} is damaged: {found.damage}", details={"split_id": split_id}
        )
    return found.split


def save(ws: Workspace, split: SplitFile) -> None:
    write_json_atomic(split_path(ws, split.project_id, split.id), split)


def remove(ws: Workspace, project_id: str, split_id: str) -> None:
    try:
        split_path(ws, project_id, split_id).unlink()
    except FileNotFoundError:
        raise NotFound(
            f"No split {split_id!r} in this project", details={"split_id": split_id}
        ) from None


def experiments_using(ws: Workspace, project_id: str, split_id: str) -> list[ExperimentRef]:
    """Experiments whose ``experiment.json`` names this split (unreadable files are ignored)."""
    folder = ws.project_dir(project_id) / "experiments"
    found: list[ExperimentRef] = []
    if not folder.is_dir():
        return found
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        path = Path(entry.path) / "experiment.json"
        if not entry.is_dir() or not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("split_id") == split_id:
            name = data.get("name")
            found.append(ExperimentRef(str(data.get("id") or entry.name), str(name or entry.name)))
    return found
