"""What a project card on the Projects page shows beyond the project row (reads only).

Per project: how many images its dataset has, its last experiment (the newest one, with
its model and its best value of the headline metric), and whether the user may rename and
delete it (owners; staff are owners everywhere). Everything comes from the mirrors, each
synced first by its cheap mtime check, so a card never reads every JSON file of a project.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from apps.projects.access import Role, is_staff
from apps.projects.models import Project, ProjectMember
from studio.errors import StudioError


@dataclass(frozen=True)
class LastExperiment:
    """The newest experiment of a project, as one card line."""

    name: str
    model: str  # the catalog's label ("ResNet-18"), or the key for a model no longer listed
    status: str
    metric_name: str  # "" until an epoch has been validated
    metric_value: float | None


@dataclass(frozen=True)
class CardFacts:
    image_count: int
    last_experiment: LastExperiment | None
    can_manage: bool  # rename / delete (owner role)


def owned_project_ids(user: Any) -> set[str] | None:
    """Ids of the projects ``user`` owns; ``None`` = every project (staff)."""
    if is_staff(user):
        return None
    if not getattr(user, "is_authenticated", False):
        return set()
    rows = ProjectMember.objects.filter(username=user.get_username(), role=Role.owner.name)
    return set(rows.values_list("project_id", flat=True))


def _image_count(project_id: str) -> int:
    from apps.datasets.mirror import dataset_sync  # datasets builds on projects

    return dataset_sync(project_id).image_count


def _last_experiment(project_id: str) -> LastExperiment | None:
    from apps.experiments.mirror import experiments_sync
    from apps.experiments.models import Experiment
    from studio.ml.catalog import CATALOG

    experiments_sync(project_id)
    row = (
        Experiment.objects.filter(project_id=project_id, damaged=False)
        .order_by("-created_at", "-id")
        .first()
    )
    if row is None:
        return None
    spec = CATALOG.get(row.model)
    return LastExperiment(
        name=row.name, model=spec.label if spec else row.model, status=row.status,
        metric_name=row.best_metric_name, metric_value=row.best_metric_value,
    )  # fmt: skip


def with_card_facts(user: Any, projects: Iterable[Project]) -> list[Project]:
    """The projects, each with ``.facts`` (:class:`CardFacts`) for the card template.

    A damaged project (or one whose dataset or experiments cannot be read) gets empty facts
    instead of breaking the page.
    """
    owned = owned_project_ids(user)
    out = []
    for project in projects:
        can_manage = owned is None or project.id in owned
        facts = CardFacts(0, None, can_manage)
        if not project.damaged:
            with contextlib.suppress(StudioError):
                facts = CardFacts(
                    _image_count(project.id), _last_experiment(project.id), can_manage
                )
        project.facts = facts  # type: ignore[attr-defined]
        out.append(project)
    return out
