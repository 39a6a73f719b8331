"""Project folders on disk (no Django): create, read, rename, trash, restore."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from studio.errors import Damaged, NotFound, StudioError
from studio.storage.jsonio import read_model, write_json_atomic
from studio.storage.paths import Workspace, check_id, new_id
from studio.storage.schemas import ProjectFile, ProjectMember, utcnow


@dataclass(frozen=True)
class ProjectOnDisk:
    """What a scan of ``projects/`` finds: a valid project or a damaged one."""

    id: str
    mtime_ns: int
    project: ProjectFile | None
    damage: str = ""


def projects_lock(ws: Workspace) -> Path:
    """Serialises name-uniqueness checks across processes."""
    return ws.projects_dir / ".lock"


def scan(ws: Workspace) -> list[ProjectOnDisk]:
    """Every project folder, parsed; damaged ones carry the reason instead of raising."""
    found: list[ProjectOnDisk] = []
    if not ws.projects_dir.exists():
        return found
    for entry in sorted(os.scandir(ws.projects_dir), key=lambda e: e.name):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        found.append(inspect(ws, entry.name))
    return found


def inspect(ws: Workspace, project_id: str) -> ProjectOnDisk:
    path = ws.projects_dir / project_id / "project.json"
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return ProjectOnDisk(project_id, 0, None, "project.json is missing")
    try:
        project = read_model(path, ProjectFile)
    except StudioError as exc:
        return ProjectOnDisk(project_id, mtime, None, exc.message)
    if project.id != project_id:
        return ProjectOnDisk(
            project_id,
            mtime,
            None,
            f"project.json names id {project.id!r}, folder is {project_id!r}",
        )
    return ProjectOnDisk(project_id, mtime, project)


def load(ws: Workspace, project_id: str) -> ProjectFile:
    check_id(project_id, "project")
    if not ws.project_dir(project_id).is_dir():
        raise NotFound(f"No project {project_id!r}", details={"project_id": project_id})
    found = inspect(ws, project_id)
    if found.project is None:
        raise Damaged(f"Project {project_id!r} is damaged: {found.damage}")
    return found.project


def create(
    ws: Workspace,
    name: str,
    task: str,
    description: str = "",
    members: list[ProjectMember] | None = None,
) -> ProjectFile:
    project = ProjectFile(
        id=new_id("p"), name=name, task=task, description=description, members=members or []
    )
    folder = ws.project_dir(project.id)
    folder.mkdir(parents=True)
    write_json_atomic(folder / "project.json", project)
    return project


def save(ws: Workspace, project: ProjectFile) -> ProjectFile:
    project.updated_at = utcnow()
    write_json_atomic(ws.project_file(project.id), project)
    return project


def move_to_trash(ws: Workspace, project_id: str) -> Path:
    """Move the whole project folder to ``.trash/<id>--<stamp>`` (same filesystem, atomic)."""
    source = ws.project_dir(project_id)
    if not source.is_dir():
        raise NotFound(f"No project {project_id!r}", details={"project_id": project_id})
    ws.trash_dir.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    target = ws.trash_dir / f"{project_id}--{stamp}"
    os.replace(source, target)
    return target


def trash_entries(ws: Workspace) -> list[tuple[str, datetime, Path]]:
    """(project id, deleted at, folder) for everything in the trash, oldest first."""
    out: list[tuple[str, datetime, Path]] = []
    if not ws.trash_dir.exists():
        return out
    for folder in ws.trash_dir.iterdir():
        pid, _, stamp = folder.name.partition("--")
        try:
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(tzinfo=utcnow().tzinfo)
        except ValueError:
            continue
        out.append((pid, when, folder))
    return sorted(out, key=lambda item: item[1])


def restore(ws: Workspace, trash_name: str) -> str:
    """Move a trashed folder back; returns the project id."""
    pid, sep, stamp = trash_name.partition("--")
    if not sep or not stamp.replace("T", "").isdigit():
        raise NotFound(f"Nothing called {trash_name!r} in the trash")
    folder = ws.trash_dir / f"{check_id(pid, 'project')}--{stamp}"
    if not folder.is_dir():
        raise NotFound(f"Nothing called {trash_name!r} in the trash")
    target = ws.project_dir(pid)
    if target.exists():
        raise StudioError(f"A project with id {pid!r} already exists", code="conflict")
    os.replace(folder, target)
    return pid


def purge(folder: Path) -> None:
    shutil.rmtree(folder)
