"""Project reads. Lists come from the mirror (synced first); one project from its JSON."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.core.workspace import ws
from apps.projects.access import visible_project_ids
from apps.projects.mirror import mirror_project, projects_sync
from apps.projects.models import Project
from studio.errors import Damaged, NotFound
from studio.storage import project_store
from studio.storage.paths import check_id
from studio.storage.schemas import ProjectMember


def project_list(user: Any = None) -> QuerySet[Project]:
    """Every project, or with ``user`` only those it may see (member, or staff: all)."""
    projects_sync()
    qs = Project.objects.all()
    if user is not None:
        visible = visible_project_ids(user)
        if visible is not None:
            qs = qs.filter(id__in=visible)
    return qs


def member_list(project_id: str) -> list[ProjectMember]:
    """The project's members from its JSON, by user name."""
    return sorted(project_store.load(ws(), project_id).members, key=lambda m: m.username)


def project_get(project_id: str) -> Project:
    """The mirror row, refreshed from project.json; damaged projects are returned flagged."""
    check_id(project_id, "project")
    if not ws().project_dir(project_id).is_dir():
        Project.objects.filter(id=project_id).delete()
        raise NotFound(f"No project {project_id!r}", details={"project_id": project_id})
    mirror_project(project_store.inspect(ws(), project_id))
    return Project.objects.get(id=project_id)


def project_require(project_id: str) -> Project:
    """Like ``project_get`` but a damaged project is an error (for actions on it)."""
    project = project_get(project_id)
    if project.damaged:
        raise Damaged(f"Project {project_id!r} is damaged: {project.damage_reason}")
    return project
