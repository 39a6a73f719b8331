"""Project membership for tests that write projects without the API.

The ``user`` fixture (alice, not staff) only sees projects she is a member of; a project
written with ``project_store.create`` has no members unless given some.
"""

from __future__ import annotations

from studio.storage.schemas import ProjectMember, ProjectRole


def alice_owns() -> list[ProjectMember]:
    """``members=`` for ``project_store.create``: alice owns the project."""
    return [ProjectMember(username="alice", role=ProjectRole.owner)]
