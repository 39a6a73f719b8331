"""The SQLite mirror (API tokens, sessions) and its -wal/-shm files are mode 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from studio.runtime.private_files import private_sqlite
from tests.conftest import ROOT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_private_and_loose_bits_dropped(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    db = folder / "mirror.sqlite3"
    private_sqlite(db)
    assert db.exists() and mode(db) == 0o600
    for path in (db, folder / "mirror.sqlite3-wal", folder / "mirror.sqlite3-shm"):
        path.touch()
        path.chmod(0o644)
    private_sqlite(db)
    assert [mode(p) for p in sorted(folder.iterdir())] == [0o600, 0o600, 0o600]


def test_migrate_creates_a_private_database(tmp_path: Path) -> None:
    """A real start: settings tighten the file before Django opens it, WAL files follow."""
    db = tmp_path / "mirror.sqlite3"
    env = dict(
        os.environ,
        STUDIO_WORKSPACE=str(tmp_path / "ws"),
        STUDIO_DB_PATH=str(db),
        DJANGO_SETTINGS_MODULE="studio.settings",
    )
    env.pop("STUDIO_TEST_CHILD", None)
    code = (
        "import django, os; django.setup();"
        "from django.db import connection; connection.ensure_connection();"
        "c = connection.cursor(); c.execute('create table t (x int)'); c.execute('insert into t values (1)');"
        "print(sorted(f for f in os.listdir(os.path.dirname(os.environ['STUDIO_DB_PATH']))))"
    )
    old = os.umask(0o022)
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120, check=True,
        ).stdout  # fmt: skip
    finally:
        os.umask(old)
    assert "mirror.sqlite3" in out
    assert mode(db) == 0o600
    for companion in tmp_path.glob("mirror.sqlite3-*"):
        assert mode(companion) == 0o600, companion
