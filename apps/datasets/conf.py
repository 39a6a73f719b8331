"""Settings of the datasets app (read lazily, with defaults; none are required).

- ``STUDIO_IMPORT_ROOTS``: more folders server-folder imports may read, besides the
  workspace's ``import/`` folder (always allowed, created at start). A list, or a string
  of paths separated by ``os.pathsep`` (``:``) or commas; also read from the environment
  variable of the same name. There is no "anywhere" setting: a root that contains the
  workspace still never lets an import read the workspace or a folder above it.
- Who may import server folders: staff, and users with the permission
  ``datasets.import_server_folder`` (see :func:`may_import_server_folders`).
  ``manage.py import_dataset`` (the server's operator) may read any folder but the workspace.
- ``STUDIO_IMPORT_MAX_UPLOAD_BYTES`` (4 GiB), ``STUDIO_IMPORT_MAX_ZIP_ENTRIES``
  (200,000), ``STUDIO_IMPORT_MAX_UNCOMPRESSED_BYTES`` (16 GiB): upload caps.
- ``STUDIO_IMPORT_MAX_ZIP_ENTRY_BYTES`` (512 MiB): one zip entry, uncompressed.
- ``STUDIO_IMPORT_MAX_ZIP_RATIO`` (100): how many times an entry, or the whole zip, may
  expand; applies above ``STUDIO_IMPORT_ZIP_RATIO_FLOOR_BYTES`` (8 MiB), so small
  compressible files (a CSV) always pass.
- ``STUDIO_IMPORT_WORKERS``: processes that decode images (default: CPU count, at most 8).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.core.workspace import ws
from studio.datasets.sources import FolderPolicy, ZipCaps

SERVER_FOLDER_PERMISSION = "datasets.import_server_folder"


def _configured_roots() -> list[Path]:
    value: Any = getattr(settings, "STUDIO_IMPORT_ROOTS", None)
    if value is None:
        value = os.environ.get("STUDIO_IMPORT_ROOTS", "")
    if isinstance(value, str | Path):
        value = re.split(rf"[,{re.escape(os.pathsep)}]", str(value))
    return [Path(str(p).strip()).expanduser() for p in value if str(p).strip()]


def import_roots() -> list[Path]:
    """Every folder server-folder imports may read: ``<workspace>/import/`` first."""
    roots = [ws().import_dir]
    for root in _configured_roots():
        if root.is_absolute() and root not in roots:
            roots.append(root)
    return roots


def folder_policy(anywhere: bool = False) -> FolderPolicy:
    """The rules of a server-folder import: inside the roots (``anywhere``: the command
    line), never the workspace, inside it (but ``import/``) or a folder that contains it."""
    workspace = ws()
    return FolderPolicy(
        roots=None if anywhere else tuple(import_roots()),
        workspace=workspace.root,
        import_dir=workspace.import_dir,
    )


def may_import_server_folders(user: Any) -> bool:
    """Staff, and users granted ``datasets.import_server_folder``; everyone else uploads."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_staff or user.has_perm(SERVER_FOLDER_PERMISSION))
    )


def zip_caps() -> ZipCaps:
    default = ZipCaps()

    def value(name: str, fallback: float) -> Any:
        return getattr(settings, name, fallback)

    return ZipCaps(
        max_upload_bytes=int(value("STUDIO_IMPORT_MAX_UPLOAD_BYTES", default.max_upload_bytes)),
        max_entries=int(value("STUDIO_IMPORT_MAX_ZIP_ENTRIES", default.max_entries)),
        max_uncompressed_bytes=int(
            value("STUDIO_IMPORT_MAX_UNCOMPRESSED_BYTES", default.max_uncompressed_bytes)
        ),
        max_entry_bytes=int(value("STUDIO_IMPORT_MAX_ZIP_ENTRY_BYTES", default.max_entry_bytes)),
        max_ratio=float(value("STUDIO_IMPORT_MAX_ZIP_RATIO", default.max_ratio)),
        ratio_floor_bytes=int(
            value("STUDIO_IMPORT_ZIP_RATIO_FLOOR_BYTES", default.ratio_floor_bytes)
        ),
    )


def import_workers() -> int:
    return int(getattr(settings, "STUDIO_IMPORT_WORKERS", 0) or max(1, min(os.cpu_count() or 1, 8)))
