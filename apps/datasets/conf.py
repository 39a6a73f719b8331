"""Settings of the datasets app (read lazily, with defaults; none are required).

- ``STUDIO_IMPORT_ROOTS``: list of folders server-folder imports must be inside
  (unset or empty = any folder the server can read). Also read from the
  environment variable of the same name (paths separated by ``:``).
- ``STUDIO_IMPORT_MAX_UPLOAD_BYTES`` (4 GiB), ``STUDIO_IMPORT_MAX_ZIP_ENTRIES``
  (200,000), ``STUDIO_IMPORT_MAX_UNCOMPRESSED_BYTES`` (16 GiB): upload caps.
- ``STUDIO_IMPORT_WORKERS``: processes that decode images (default: CPU count, at most 8).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from studio.datasets.sources import ZipCaps


def import_roots() -> list[Path] | None:
    roots = getattr(settings, "STUDIO_IMPORT_ROOTS", None)
    if roots is None and os.environ.get("STUDIO_IMPORT_ROOTS"):
        roots = [p for p in os.environ["STUDIO_IMPORT_ROOTS"].split(os.pathsep) if p]
    return [Path(r) for r in roots] if roots else None


def zip_caps() -> ZipCaps:
    default = ZipCaps()
    return ZipCaps(
        max_upload_bytes=int(
            getattr(settings, "STUDIO_IMPORT_MAX_UPLOAD_BYTES", default.max_upload_bytes)
        ),
        max_entries=int(getattr(settings, "STUDIO_IMPORT_MAX_ZIP_ENTRIES", default.max_entries)),
        max_uncompressed_bytes=int(
            getattr(
                settings, "STUDIO_IMPORT_MAX_UNCOMPRESSED_BYTES", default.max_uncompressed_bytes
            )
        ),
    )


def import_workers() -> int:
    return int(getattr(settings, "STUDIO_IMPORT_WORKERS", 0) or max(1, min(os.cpu_count() or 1, 8)))
