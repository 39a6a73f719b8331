"""Who may do what in a project: the one place that answers it.

A project's ``members`` (``project.json``) give each user a :class:`Role`: ``viewer`` reads,
``editor`` also changes the project's data (import, split, train, evaluate, export: any unsafe
method on a project resource), ``owner`` also renames, deletes and manages members. Staff users
may do everything in every project. A project without members is therefore staff-only.

Refusals are domain errors so every transport shows them the same way: a user who is not a
member gets :class:`~studio.errors.NotFound` with exactly the sentence a missing project gets
(existence is not revealed); a member whose role is too low gets
:class:`~studio.errors.Forbidden` (403).

Enforcement lives in one place per transport, each calling this module: the DRF permission
``apps.projects.permissions.ProjectRolePermission`` (API), the middleware
``apps.projects.middleware.ProjectAccessMiddleware`` (pages), and the two SSE views.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any, TypeVar

from apps.core.workspace import ws
from apps.projects.mirror import projects_sync
from apps.projects.models import ProjectMember
from studio.errors import Forbidden, NotFound, ValidationFailed
from studio.storage import job_store, project_store
from studio.storage.paths import check_id

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ATTRIBUTE = "project_role_required"

F = TypeVar("F", bound=Callable[..., Any])


class Role(IntEnum):
    """Project roles, ordered: a higher role may do everything a lower one may."""

    viewer = 1
    editor = 2
    owner = 3

    @classmethod
    def parse(cls, name: object) -> Role:
        """``"editor"`` → ``Role.editor``; anything else is a validation error."""
        if isinstance(name, str) and name in cls.__members__:
            return cls[name]
        choices = ", ".join(cls.__members__)
        raise ValidationFailed(
            f"A role is one of {choices}", details={"role": [f"Choose one of {choices}."]}
        )


#: What a view may declare (attribute ``project_role_required``): one role for every
#: method, or a role per HTTP method (methods not named keep the default).
Declared = Role | Mapping[str, Role] | None


def is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


def _not_found(project_id: str) -> NotFound:
    # Word for word what a missing project answers (selectors.project_get).
    return NotFound(f"No project {project_id!r}", details={"project_id": project_id})


def member_roles(project_id: str) -> dict[str, Role]:
    """User name → role, from ``project.json``; ``{}`` if the project does not exist.

    A damaged project.json cannot be read, so the mirror's last known members answer.
    """
    check_id(project_id, "project")
    if not ws().project_dir(project_id).is_dir():
        return {}
    found = project_store.inspect(ws(), project_id)
    if found.project is not None:
        return {m.username: Role[m.role.value] for m in found.project.members}
    rows = ProjectMember.objects.filter(project_id=project_id).values_list("username", "role")
    return {name: Role[role] for name, role in rows if role in Role.__members__}


def project_role(user: Any, project_id: str) -> Role | None:
    """The user's role in the project: staff → ``owner``; ``None`` = no access at all.

    ``None`` also for an anonymous user, a malformed id or a project that does not exist.
    """
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return None
    if is_staff(user):
        return Role.owner
    try:
        roles = member_roles(project_id)
    except NotFound:  # malformed id
        return None
    return roles.get(user.get_username())


def require_project_role(user: Any, project_id: str, need: Role) -> Role:
    """The user's role if it is at least ``need``; else NotFound (no role) or Forbidden.

    Staff always pass, even for a project that does not exist: the view then answers its
    own 404, as it always did.
    """
    role = project_role(user, project_id)
    if role is None:
        raise _not_found(project_id)
    if role < need:
        raise Forbidden(
            f"Your role in this project is {role.name}; this needs {need.name} or higher",
            details={"role": role.name, "required": need.name},
        )
    return role


def require_job_role(user: Any, job_id: str, need: Role) -> Role:
    """As :func:`require_project_role` for the job's project; a job without one is staff-only.

    A non-staff user without access gets the sentence a missing job gets.
    """
    if is_staff(user):
        return Role.owner
    missing = NotFound(f"No job {job_id!r}", details={"job_id": job_id})
    try:
        check_id(job_id, "job")
        project_id = job_store.load(ws(), job_id).project_id
    except NotFound:
        raise missing from None
    if not project_id:
        raise missing
    try:
        return require_project_role(user, project_id, need)
    except NotFound:
        raise missing from None


def visible_project_ids(user: Any) -> set[str] | None:
    """Ids of the projects the user may see; ``None`` means all of them (staff)."""
    if is_staff(user):
        return None
    if not getattr(user, "is_authenticated", False):
        return set()
    projects_sync()  # cheap mtime check: memberships edited on disk count at once
    return set(
        ProjectMember.objects.filter(username=user.get_username()).values_list(
            "project_id", flat=True
        )
    )


def needed_role(method: str, declared: Declared = None) -> Role:
    """The role a request needs: safe methods viewer, others editor, unless declared higher."""
    default = Role.viewer if method.upper() in SAFE_METHODS else Role.editor
    if declared is None:
        return default
    if isinstance(declared, Role):
        return declared
    return declared.get(method.upper(), default)


def requires_role(role: Role) -> Callable[[F], F]:
    """Page-view decorator: every method of the view needs ``role`` (read by the middleware)."""

    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, role)
        return view

    return mark
