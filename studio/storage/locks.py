"""Cross-process locks on workspace resources.

``resource_lock(path)`` takes an exclusive ``fcntl.flock`` on a ``.lock`` file,
so the web process and any number of workers on the same machine (or on shared
storage that honours flock, e.g. NFSv4) serialise read-modify-write cycles.
The lock is also re-entrant within one thread so a service may call another.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from studio.errors import Conflict, NotFound

_held = threading.local()


@contextmanager
def resource_lock(lock_path: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (its folder must exist) for the block."""
    key = str(lock_path)
    depth: dict[str, int] = getattr(_held, "depth", None) or {}
    _held.depth = depth
    if depth.get(key):
        depth[key] += 1
        try:
            yield
        finally:
            depth[key] -= 1
        return
    # The folder is never created here: locking a project that does not exist
    # must not conjure up an empty (and then "damaged") project folder.
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:
        raise NotFound(f"{lock_path.parent.name!r} does not exist") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Conflict(
                        f"{lock_path.parent.name} is busy; try again", code="busy"
                    ) from None
                time.sleep(0.01)
        depth[key] = 1
        try:
            yield
        finally:
            depth.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
