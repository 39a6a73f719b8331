"""The workspace folder layout, and safe resolution of every user-supplied path.

Layout (``STUDIO_WORKSPACE``, default ``./workspace``)::

    workspace.json                      layout version, created_at
    projects/<project_id>/project.json  one folder per project (later: dataset/, splits/, experiments/)
    jobs/<job_id>/job.json              generic job record
    jobs/<job_id>/events.jsonl          append-only event log (SSE replay)
    .trash/<project_id>--<stamp>/       deleted projects, restorable until purged
    import/                             folders users may import from (server-folder imports)
    .secrets/                           secret_key, admin_password (mode 0600)
    .redis/                             embedded redis-server data (AOF)
    .run/                               sockets and pid files of running services
    .cache/torch/                       TORCH_HOME: cached pretrained weights
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from studio.errors import NotFound, ValidationFailed

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str = "") -> str:
    """A short, URL-safe, roughly time-ordered identifier (``<prefix><stamp><random>``)."""
    stamp = format(int(time.time()), "x")[-6:]
    rand = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"{prefix}{stamp}{rand}"


def check_id(value: str, what: str = "id") -> str:
    """Reject identifiers that could be used to walk out of a folder."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise NotFound(f"No {what} {value!r}", details={what: value})
    return value


def resolve_inside(base: Path, *parts: str | Path) -> Path:
    """Join ``parts`` under ``base`` and refuse anything that resolves outside it.

    Symlinks are resolved first, so a link pointing out of ``base`` is refused too.
    """
    base_real = base.resolve()
    target = base_real.joinpath(*parts).resolve()
    if target != base_real and base_real not in target.parents:
        raise ValidationFailed(
            "Path is outside the allowed folder",
            code="path_outside_workspace",
            details={"path": str(Path(*parts))},
        )
    return target


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace root. Creating the object touches nothing on disk."""

    root: Path

    @property
    def projects_dir(self) -> Path:
        return self.root / "projects"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def trash_dir(self) -> Path:
        return self.root / ".trash"

    @property
    def secrets_dir(self) -> Path:
        return self.root / ".secrets"

    @property
    def redis_dir(self) -> Path:
        return self.root / ".redis"

    @property
    def run_dir(self) -> Path:
        return self.root / ".run"

    @property
    def import_dir(self) -> Path:
        """The default import root: the one folder inside the workspace imports may read."""
        return self.root / "import"

    @property
    def torch_home(self) -> Path:
        return self.root / ".cache" / "torch"

    def project_dir(self, project_id: str) -> Path:
        return self.projects_dir / check_id(project_id, "project")

    def project_file(self, project_id: str) -> Path:
        return self.project_dir(project_id) / "project.json"

    def project_lock(self, project_id: str) -> Path:
        return self.project_dir(project_id) / ".lock"

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / check_id(job_id, "job")

    def redis_socket(self) -> Path:
        """Unix socket of the embedded redis; short enough for ``sun_path`` (107 bytes)."""
        sock = self.run_dir / "redis.sock"
        if len(str(sock)) <= 100:
            return sock
        digest = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"studio-{digest}" / "redis.sock"

    def ensure(self) -> Workspace:
        """Create the standard layout (idempotent) and return self."""
        for folder in (
            self.projects_dir,
            self.jobs_dir,
            self.trash_dir,
            self.run_dir,
            self.import_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        marker = self.root / "workspace.json"
        if not marker.exists():
            from studio.storage.jsonio import write_json_atomic
            from studio.storage.schemas import WorkspaceFile

            write_json_atomic(marker, WorkspaceFile())
        return self
