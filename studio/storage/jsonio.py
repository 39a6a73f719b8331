"""Atomic JSON files.

Contract: a reader never sees a half-written file. ``write_json_atomic`` writes a
temp file in the same folder, fsyncs it, ``os.replace``s it over the target and
fsyncs the folder, so after a crash (even SIGKILL or power loss) the path holds
either the old or the new content, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from studio.errors import Damaged, NotFound

M = TypeVar("M", bound=BaseModel)


def fsync_dir(folder: Path) -> None:
    """Make a rename or create inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, payload: Any) -> None:
    """Serialise ``payload`` (a pydantic model or plain data) and write it atomically."""
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json(indent=2)
    else:
        text = json.dumps(payload, indent=2, ensure_ascii=False, default=str)
    write_bytes_atomic(path, (text + "\n").encode("utf-8"))


def read_json(path: Path) -> Any:
    """Parse a JSON file; a missing file is ``NotFound``, a corrupt one ``Damaged``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"{path.name} does not exist") from exc
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Damaged(f"{path.name} is not valid JSON: {exc}") from exc


def read_model(path: Path, model: type[M]) -> M:
    """Read and validate a JSON file against a pydantic schema."""
    data = read_json(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(root)"
        raise Damaged(
            f"{path.name} does not match its schema: {where}: {first.get('msg')}"
        ) from exc
