"""Keeping the project mirror equal to the workspace.

``projects_sync`` compares each folder's project.json mtime with the mirror and
re-reads only what changed, so it is cheap enough to run on every list request:
edits made on disk, or by another machine on shared storage, show up at once, and
a damaged file shows as damaged instead of breaking the page.
"""

from __future__ import annotations

from apps.core.workspace import ws
from apps.projects.models import Project, ProjectMember
from studio.storage import project_store
from studio.storage.project_store import ProjectOnDisk


def mirror_project(found: ProjectOnDisk) -> None:
    """Upsert the project row and replace its member rows with the JSON's ``members``.

    A damaged project keeps the member rows it had (the last known members), so its
    members still see it flagged as damaged; after a full rebuild it has none (staff only).
    """
    if found.project is None:
        Project.objects.update_or_create(
            id=found.id,
            defaults={
                "name": found.id,
                "task": "",
                "description": "",
                "created_at": None,
                "updated_at": None,
                "damaged": True,
                "damage_reason": found.damage,
                "json_mtime_ns": found.mtime_ns,
            },
        )
        return
    p = found.project
    before = Project.objects.filter(id=p.id).values_list("json_mtime_ns", flat=True).first()
    Project.objects.update_or_create(
        id=p.id,
        defaults={
            "name": p.name,
            "task": p.task,
            "description": p.description,
            "created_at": p.created_at,
            "updated_at": p.updated_at,
            "damaged": False,
            "damage_reason": "",
            "json_mtime_ns": found.mtime_ns,
        },
    )
    if before == found.mtime_ns:
        return  # the same project.json as last time: its member rows are already right
    ProjectMember.objects.filter(project_id=p.id).delete()
    ProjectMember.objects.bulk_create(
        ProjectMember(project_id=p.id, username=m.username, role=m.role.value) for m in p.members
    )


def projects_sync(full: bool = False) -> int:
    """Bring the mirror in line with disk; returns how many rows changed.

    ``full`` re-reads every project.json; otherwise only those whose mtime moved.
    """
    known = dict(Project.objects.values_list("id", "json_mtime_ns"))
    ids = _folder_ids()
    changed = 0
    for pid in sorted(ids):
        if full or known.get(pid, -1) != _mtime(pid):
            mirror_project(project_store.inspect(ws(), pid))
            changed += 1
    gone = set(known) - ids
    if gone:
        Project.objects.filter(id__in=gone).delete()
        changed += len(gone)
    return changed


def _folder_ids() -> set[str]:
    root = ws().projects_dir
    if not root.exists():
        return set()
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}


def _mtime(project_id: str) -> int:
    try:
        return (ws().projects_dir / project_id / "project.json").stat().st_mtime_ns
    except FileNotFoundError:
        return 0
