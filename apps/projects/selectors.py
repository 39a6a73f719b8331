"""Project reads. Lists come from the mirror (synced first); one project from its JSON."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.workspace import ws
from apps.projects.mirror import mirror_project, projects_sync
from apps.projects.models import Project
from studio.errors import Damaged, NotFound
from studio.storage import project_store
from studio.storage.paths import check_id


def project_list() -> QuerySet[Project]:
    projects_sync()
    return Project.objects.all()


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
