"""Atomic writes survive SIGKILL at any moment: every file parses as the old or the new version."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from studio.errors import Damaged, NotFound
from studio.storage.jsonio import read_json, read_model, write_json_atomic
from studio.storage.schemas import ProjectFile

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from studio.storage.jsonio import read_json, write_json_atomic
    folder = Path(sys.argv[1])
    n = max(read_json(folder / f"f{i}.json")["version"] for i in range(5))
    print("ready", flush=True)
    while True:
        n += 1
        for i in range(5):
            # Big enough that a torn write would be visible, with a recognisable version.
            write_json_atomic(folder / f"f{i}.json", {"version": n, "pad": "x" * 20000, "check": n * 7})
    """
)


def test_files_are_old_or_new_after_sigkill(tmp_path: Path) -> None:
    rng = random.Random(1234)
    for i in range(5):
        write_json_atomic(tmp_path / f"f{i}.json", {"version": 0, "pad": "", "check": 0})
    seen_versions: set[int] = set()
    root = Path(__file__).resolve().parents[2]
    for _round in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)],
            cwd=root,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.01, 0.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for i in range(5):
            data = read_json(tmp_path / f"f{i}.json")
            assert data["check"] == data["version"] * 7
            seen_versions.add(data["version"])
    assert len(seen_versions) > 5, "the writer should have made progress between kills"
    leftovers = [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    # Temp files of killed writers may remain; they are never mistaken for data files.
    assert all(p.name.startswith(".") for p in leftovers)


def test_read_model_reports_damage_and_absence(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_model(tmp_path / "missing.json", ProjectFile)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(Damaged, match="not valid JSON"):
        read_model(tmp_path / "bad.json", ProjectFile)
    (tmp_path / "wrong.json").write_text(json.dumps({"schema_version": 1, "id": "x"}))
    with pytest.raises(Damaged, match="does not match its schema"):
        read_model(tmp_path / "wrong.json", ProjectFile)
