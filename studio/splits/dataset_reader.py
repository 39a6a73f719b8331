"""Read the dataset a split is made from, through the datasets store's contract.

Uses :mod:`studio.datasets.store` for the layout and for what counts as part of the
dataset (a record counts only once its import is committed in ``dataset.json``).
Parsed records are cached per process, keyed by file path, mtime and size, so repeated
previews of a large dataset only ``stat`` the record files.

Contract: no dataset yet is an empty dataset; a record (or ``dataset.json``) that
cannot be read or validated is skipped and named in ``unreadable`` — never raises.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from studio.datasets import store as dataset_store
from studio.errors import StudioError
from studio.storage.dataset_schemas import ClassInfo, DatasetFile, ImageRecord
from studio.storage.jsonio import read_model
from studio.storage.paths import Workspace

_CACHE_LIMIT = 500_000
_cache: dict[str, tuple[int, int, ImageRecord]] = {}
_cache_lock = threading.Lock()


@dataclass
class DatasetSnapshot:
    """What a split needs from the dataset at one moment."""

    classes: list[ClassInfo] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    records: list[ImageRecord] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # file names that failed

    @property
    def ids(self) -> set[str]:
        return {r.id for r in self.records}


def _meta_files(meta: Path) -> list[os.DirEntry[str]]:
    found: list[os.DirEntry[str]] = []
    if not meta.is_dir():
        return found
    for bucket in os.scandir(meta):
        if not bucket.is_dir() or bucket.name.startswith("."):
            continue
        for entry in os.scandir(bucket.path):
            if entry.name.endswith(".json") and not entry.name.startswith("."):
                found.append(entry)
    return found


def _record(entry: os.DirEntry[str]) -> ImageRecord:
    st = entry.stat()
    with _cache_lock:
        hit = _cache.get(entry.path)
    if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
        return hit[2]
    record = read_model(Path(entry.path), ImageRecord)
    with _cache_lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[entry.path] = (st.st_mtime_ns, st.st_size, record)
    return record


def read_dataset(ws: Workspace, project_id: str) -> DatasetSnapshot:
    """Classes, target names and every committed, readable image record of the dataset."""
    snap = DatasetSnapshot()
    try:
        dataset = dataset_store.load_dataset(ws, project_id)
    except StudioError:
        snap.unreadable.append("dataset.json")
        dataset = DatasetFile(project_id=project_id)
    snap.classes = list(dataset.classes)
    snap.target_names = list(dataset.target_names)
    committed = dataset_store.committed_import_ids(dataset)
    meta = dataset_store.dataset_paths(ws, project_id).meta_dir
    for entry in sorted(_meta_files(meta), key=lambda e: e.name):
        try:
            record = _record(entry)
        except (StudioError, OSError):
            snap.unreadable.append(entry.name)
            continue
        if record.id != entry.name[: -len(".json")]:
            snap.unreadable.append(entry.name)
        elif record.import_id in committed:
            snap.records.append(record)
    return snap
