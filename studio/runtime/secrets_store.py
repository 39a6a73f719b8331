"""Per-workspace secrets in ``.secrets/`` (mode 0600): never a default key."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from studio.storage.paths import Workspace


def _write_private(path: Path, value: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)


def secret_key(ws: Workspace) -> str:
    """The Django SECRET_KEY of this workspace, generated on first use."""
    path = ws.secrets_dir / "secret_key"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process won the race
            _write_private(path, secrets.token_urlsafe(64))
    return path.read_text().strip()


def store_admin_password(ws: Workspace, password: str) -> Path:
    path = ws.secrets_dir / "admin_password"
    path.unlink(missing_ok=True)
    _write_private(path, password + "\n")
    return path
