from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.errors import NotFound, ValidationFailed
from studio.storage.paths import Workspace, check_id, new_id, resolve_inside


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "", "A", "%2e%2e", "/etc", "x" * 65])
def test_check_id_refuses_path_tricks(bad: str) -> None:
    with pytest.raises(NotFound):
        check_id(bad)


def test_new_ids_are_valid_and_unique() -> None:
    ids = {new_id("p") for _ in range(500)}
    assert len(ids) == 500
    assert all(check_id(i) for i in ids)


@pytest.mark.parametrize("part", ["../outside", "/etc/passwd", "a/../../b"])
def test_resolve_inside_refuses_escape(tmp_path: Path, part: str) -> None:
    with pytest.raises(ValidationFailed):
        resolve_inside(tmp_path / "base", part)


def test_resolve_inside_refuses_symlink_out(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    os.symlink("/etc", base / "link")
    with pytest.raises(ValidationFailed):
        resolve_inside(base, "link/passwd")
    assert resolve_inside(base, "sub/file.txt") == (base / "sub" / "file.txt").resolve()


def test_workspace_layout_is_created(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "w").ensure()
    for folder in (ws.projects_dir, ws.jobs_dir, ws.trash_dir, ws.secrets_dir, ws.run_dir):
        assert folder.is_dir()
    assert (ws.root / "workspace.json").exists()
    assert oct(ws.secrets_dir.stat().st_mode & 0o777) == "0o700"


def test_long_workspace_paths_get_a_short_socket(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / ("x" * 120))
    assert len(str(ws.redis_socket())) <= 100
