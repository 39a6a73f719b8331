"""Project writes: validate, write project.json (under locks), then the mirror."""

from __future__ import annotations

from datetime import timedelta

from apps.core.workspace import ws
from apps.projects.mirror import mirror_project, projects_sync
from apps.projects.models import Project
from studio.errors import Conflict, ValidationFailed
from studio.ml.tasks.registry import require_available
from studio.storage import project_store
from studio.storage.locks import resource_lock
from studio.storage.schemas import ProjectFile, utcnow

NAME_MAX = 100


def clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(
            "A project needs a name", details={"name": ["This field is required."]}
        )
    cleaned = " ".join(name.split())
    if len(cleaned) > NAME_MAX:
        raise ValidationFailed(
            f"Project names are at most {NAME_MAX} characters",
            details={"name": [f"Ensure this field has no more than {NAME_MAX} characters."]},
        )
    return cleaned


def _ensure_unique(name: str, except_id: str | None = None) -> None:
    for found in project_store.scan(ws()):
        if (
            found.project
            and found.id != except_id
            and found.project.name.casefold() == name.casefold()
        ):
            raise Conflict(
                f"A project named {found.project.name!r} already exists",
                code="duplicate_name",
                details={"name": [f"{found.project.name!r} is taken"], "project_id": found.id},
            )


def project_create(name: object, task: str, description: str = "") -> ProjectFile:
    cleaned = clean_name(name)
    require_available(task)
    with resource_lock(project_store.projects_lock(ws())):
        _ensure_unique(cleaned)
        project = project_store.create(ws(), cleaned, task, description)
    mirror_project(project_store.inspect(ws(), project.id))
    return project


def project_update(
    project_id: str, *, name: object = None, description: str | None = None
) -> ProjectFile:
    """Rename and/or re-describe. The task of a project never changes."""
    cleaned = clean_name(name) if name is not None else None
    project_store.load(ws(), project_id)  # NotFound / Damaged before taking locks
    with (
        resource_lock(project_store.projects_lock(ws())),
        resource_lock(ws().project_lock(project_id)),
    ):
        project = project_store.load(ws(), project_id)
        if cleaned is not None:
            _ensure_unique(cleaned, except_id=project_id)
            project.name = cleaned
        if description is not None:
            project.description = description
        project_store.save(ws(), project)
    mirror_project(project_store.inspect(ws(), project_id))
    return project


def project_delete(project_id: str) -> str:
    """Move the project to the trash (restorable); returns the trash entry name."""
    with resource_lock(project_store.projects_lock(ws())):
        folder = project_store.move_to_trash(ws(), project_id)
    Project.objects.filter(id=project_id).delete()
    return folder.name


def project_restore(trash_name: str) -> ProjectFile:
    with resource_lock(project_store.projects_lock(ws())):
        pid = project_store.restore(ws(), trash_name)
    found = project_store.inspect(ws(), pid)
    mirror_project(found)
    return project_store.load(ws(), pid)


def trash_purge(older_than_days: float = 0) -> list[str]:
    """Delete trashed projects for good; returns the purged entry names."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    purged = []
    for _pid, when, folder in project_store.trash_entries(ws()):
        if when <= cutoff:
            project_store.purge(folder)
            purged.append(folder.name)
    return purged


def mirror_rebuild() -> int:
    """Drop every mirror row and rebuild from the workspace; returns the row count."""
    Project.objects.all().delete()
    projects_sync(full=True)
    return Project.objects.count()
