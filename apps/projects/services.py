"""Project writes: validate, write project.json (under locks), then the mirror."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model

from apps.core.workspace import ws
from apps.projects.access import Role
from apps.projects.mirror import mirror_project, projects_sync
from apps.projects.models import Project
from studio.errors import Conflict, NotFound, ValidationFailed
from studio.ml.tasks.registry import require_available
from studio.storage import project_store
from studio.storage.locks import resource_lock
from studio.storage.schemas import ProjectFile, ProjectMember, ProjectRole, utcnow

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


def project_create(
    name: object, task: str, description: str = "", owner: str | None = None
) -> ProjectFile:
    """Create a project; ``owner`` (a user name) becomes its first owner.

    Without an owner only staff users see the project until someone adds members.
    """
    cleaned = clean_name(name)
    require_available(task)
    members = []
    if owner:
        _require_user(owner)
        members = [ProjectMember(username=owner, role=ProjectRole.owner)]
    with resource_lock(project_store.projects_lock(ws())):
        _ensure_unique(cleaned)
        project = project_store.create(ws(), cleaned, task, description, members)
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


def _require_user(username: str) -> None:
    if not get_user_model().objects.filter(username=username).exists():
        raise NotFound(f"No user {username!r}", details={"username": username})


def _owners(project: ProjectFile) -> list[str]:
    return [m.username for m in project.members if m.role == ProjectRole.owner]


def member_set(project_id: str, username: str, role: Role | str) -> ProjectFile:
    """Add ``username`` to the project with ``role``, or change its role.

    Demoting the last owner is refused (409 ``last_owner``): someone must manage the project.
    """
    wanted = ProjectRole(Role.parse(role.name if isinstance(role, Role) else role).name)
    _require_user(username)
    project_store.load(ws(), project_id)  # NotFound / Damaged before taking the lock
    with resource_lock(ws().project_lock(project_id)):
        project = project_store.load(ws(), project_id)
        current = next((m for m in project.members if m.username == username), None)
        if (
            current is not None
            and current.role == ProjectRole.owner
            and wanted != ProjectRole.owner
            and _owners(project) == [username]
        ):
            raise _last_owner(username)
        others = [m for m in project.members if m.username != username]
        project.members = sorted(
            [*others, ProjectMember(username=username, role=wanted)], key=lambda m: m.username
        )
        project_store.save(ws(), project)
    mirror_project(project_store.inspect(ws(), project_id))
    return project


def member_remove(project_id: str, username: str) -> ProjectFile:
    """Take ``username`` out of the project; the last owner cannot be removed (409)."""
    project_store.load(ws(), project_id)
    with resource_lock(ws().project_lock(project_id)):
        project = project_store.load(ws(), project_id)
        current = next((m for m in project.members if m.username == username), None)
        if current is None:
            raise NotFound(
                f"{username!r} is not a member of this project",
                details={"username": username},
            )
        if current.role == ProjectRole.owner and _owners(project) == [username]:
            raise _last_owner(username)
        project.members = [m for m in project.members if m.username != username]
        project_store.save(ws(), project)
    mirror_project(project_store.inspect(ws(), project_id))
    return project


def _last_owner(username: str) -> Conflict:
    return Conflict(
        f"{username!r} is the last owner of this project; make someone else owner first",
        code="last_owner",
        details={"username": username},
    )


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
