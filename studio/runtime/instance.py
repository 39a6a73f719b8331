"""Which workspace a Redis belongs to: the key ``studio:instance`` holds the workspace's id.

A worker attached to another workspace's Redis would claim job ids it cannot find, or worse,
run the jobs of an instance with another workspace. Whoever starts the embedded Redis writes
the id (it is ours by construction); an external Redis gets it from the first instance that
sees the key absent (``SET NX``); everyone else must match it.
"""

from __future__ import annotations

import contextlib
import os
import secrets

import redis

from studio.errors import StudioError
from studio.storage.paths import Workspace

INSTANCE_KEY = "studio:instance"


class InstanceMismatch(StudioError):
    status = 409
    code = "instance_mismatch"


def instance_id(ws: Workspace) -> str:
    """This workspace's id (``.secrets/instance_id``), generated on first use."""
    path = ws.secrets_dir / "instance_id"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process won the race
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(16) + "\n")
    return path.read_text().strip()


def claim_redis(client: redis.Redis, ws: Workspace, *, owner: bool = False) -> str:
    """Mark ``client``'s Redis as this workspace's, or raise :class:`InstanceMismatch`.

    ``owner=True`` (the embedded Redis, which lives in this workspace) overwrites the key;
    otherwise it is only set when absent. Returns the id. Redis errors propagate.
    """
    mine = instance_id(ws)
    if owner:
        client.set(INSTANCE_KEY, mine)
        return mine
    client.set(INSTANCE_KEY, mine, nx=True)
    raw = client.get(INSTANCE_KEY)
    theirs = raw.decode() if isinstance(raw, bytes) else str(raw)
    if theirs != mine:
        raise InstanceMismatch(
            f"This Redis belongs to another Studio workspace (its {INSTANCE_KEY} is {theirs}, "
            f"this workspace {ws.root} is {mine}); refusing to use it. Point STUDIO_REDIS_URL "
            f"at this workspace's Redis, or delete the key if the other workspace is gone.",
            details={"redis": theirs, "workspace": mine},
        )
    return mine
