"""Files only the owner may read: the SQLite mirror holds API tokens and sessions.

SQLite creates its ``-wal`` and ``-shm`` files with the mode of the database file, so a
database created (or tightened) to 0600 here keeps its companions private too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing; else drop group/other bits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def private_sqlite(path: Path) -> None:
    """The database file and whichever of its companion files exist: 0600."""
    make_private(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(companion.stat().st_mode)
            if mode & 0o077:
                os.chmod(companion, mode & 0o700)
