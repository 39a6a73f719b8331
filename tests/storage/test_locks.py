"""The per-resource lock serialises read-modify-write across processes."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from studio.storage.jsonio import read_json, write_json_atomic
from studio.storage.locks import resource_lock


def _increment(folder: str, times: int) -> None:
    path = Path(folder) / "counter.json"
    for _ in range(times):
        with resource_lock(Path(folder) / ".lock"):
            value = read_json(path)["n"]
            write_json_atomic(path, {"n": value + 1})


def test_no_lost_updates_across_processes(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "counter.json", {"n": 0})
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_increment, args=(str(tmp_path), 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert json.loads((tmp_path / "counter.json").read_text())["n"] == 120


def test_lock_is_reentrant_in_one_thread(tmp_path: Path) -> None:
    with resource_lock(tmp_path / ".lock"), resource_lock(tmp_path / ".lock"):
        pass
