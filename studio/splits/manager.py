"""Split operations on a workspace: preview, create, rename, delete, and status.

These are the framework-free rules; the Django services add the mirror on top.

- ``preview`` computes a plan and writes nothing.
- ``create`` writes ``splits/<id>.json`` once; assignments are never rewritten.
- ``rename`` is the only change a saved split accepts.
- ``delete`` refuses (409 ``split_in_use``) while an experiment names the split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.errors import Conflict, NotFound, ValidationFailed
from studio.splits import dataset_reader, store
from studio.splits.planner import SplitPlan, plan_split
from studio.splits.schemas import SplitFile, SplitRatios, SplitWarning
from studio.storage.locks import resource_lock
from studio.storage.paths import Workspace, new_id
from studio.storage.schemas import ProjectFile

NAME_MAX = 100
SEED_MAX = 2**31 - 1


@dataclass
class SplitStatus:
    """How a saved split relates to the dataset and experiments now."""

    unassigned: int  # dataset images that are not in the split (imported after it)
    missing: int  # images of the split that are no longer in the dataset
    used_by: list[store.ExperimentRef] = field(default_factory=list)


def clean_name(name: object) -> str:
    """Collapse whitespace; a name is 1-100 characters."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(
            "A split needs a name", details={"name": ["This field may not be blank."]}
        )
    cleaned = " ".join(name.split())
    if len(cleaned) > NAME_MAX:
        raise ValidationFailed(
            f"Split names are at most {NAME_MAX} characters",
            details={"name": [f"Ensure this field has no more than {NAME_MAX} characters."]},
        )
    return cleaned


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ValidationFailed(
            f"The seed is a whole number from 0 to {SEED_MAX}",
            code="invalid_seed",
            details={"seed": [f"Give a whole number from 0 to {SEED_MAX}."]},
        )
    return seed


def preview(ws: Workspace, project: ProjectFile, ratios: SplitRatios, seed: int) -> SplitPlan:
    """The split these settings would make of the dataset now. Writes nothing.

    Raises ``ValidationFailed`` for invalid ratios/seed (``invalid_ratios``, ``invalid_seed``)
    and for a dataset without images (``empty_dataset``).
    """
    ratios.check()
    check_seed(seed)
    snap = dataset_reader.read_dataset(ws, project.id)
    if not snap.records:
        raise ValidationFailed(
            "The dataset of this project has no images yet: import images before making a split",
            code="empty_dataset",
            details={"project_id": project.id, "unreadable": len(snap.unreadable)},
        )
    plan = plan_split(project.task, snap.records, ratios, seed, snap.classes, snap.target_names)
    if snap.unreadable:
        shown = ", ".join(snap.unreadable[:5]) + (" …" if len(snap.unreadable) > 5 else "")
        plan.warnings.insert(0, SplitWarning(
            code="unreadable_records",
            message=f"{len(snap.unreadable)} dataset file(s) could not be read, left out: {shown}",
        ))  # fmt: skip
    return plan


def _taken_names(ws: Workspace, project_id: str) -> dict[str, str]:
    return {
        found.split.name.casefold(): found.id
        for found in store.scan(ws, project_id)
        if found.split is not None
    }


def _default_name(taken: dict[str, str]) -> str:
    n = len(taken) + 1
    while f"split {n}" in taken:
        n += 1
    return f"Split {n}"


def create(
    ws: Workspace, project: ProjectFile, ratios: SplitRatios, seed: int, name: object = None
) -> SplitFile:
    """Compute and save a new split; ``name`` defaults to "Split <n>". Names are unique
    per project, case-insensitively (409 ``duplicate_name``)."""
    cleaned = (
        None if name is None or (isinstance(name, str) and not name.strip()) else clean_name(name)
    )
    plan = preview(ws, project, ratios, seed)
    store.splits_dir(ws, project.id).mkdir(exist_ok=True)  # the project folder must exist
    with resource_lock(store.splits_lock(ws, project.id)):
        taken = _taken_names(ws, project.id)
        final = cleaned or _default_name(taken)
        _ensure_unique(taken, final)
        split = SplitFile(
            id=new_id("s"), project_id=project.id, name=final, task=project.task,
            strategy=plan.strategy, ratios=ratios, seed=seed, image_count=plan.image_count,
            sizes=plan.sizes, counts=plan.counts, warnings=plan.warnings,
            assignments=dict(sorted(plan.assignments.items())),
        )  # fmt: skip
        store.save(ws, split)
    return split


def _ensure_unique(taken: dict[str, str], name: str, except_id: str | None = None) -> None:
    other = taken.get(name.casefold())
    if other and other != except_id:
        raise Conflict(
            f"A split named {name!r} already exists in this project",
            code="duplicate_name",
            details={"name": [f"{name!r} is taken"], "split_id": other},
        )


def rename(ws: Workspace, project_id: str, split_id: str, name: object) -> SplitFile:
    """Change the name; the assignment, ratios and seed of a saved split never change."""
    cleaned = clean_name(name)
    store.load(ws, project_id, split_id)  # NotFound / Damaged before taking the lock
    with resource_lock(store.splits_lock(ws, project_id)):
        split = store.load(ws, project_id, split_id)
        _ensure_unique(_taken_names(ws, project_id), cleaned, except_id=split_id)
        if split.name != cleaned:
            split.name = cleaned
            store.save(ws, split)
    return split


def delete(ws: Workspace, project_id: str, split_id: str) -> None:
    """Delete a split file (even a damaged one) unless an experiment uses it (``split_in_use``)."""
    if store.inspect(ws, project_id, split_id).mtime_ns == 0:
        raise NotFound(f"No split {split_id!r} in this project", details={"split_id": split_id})
    with resource_lock(store.splits_lock(ws, project_id)):
        users = store.experiments_using(ws, project_id, split_id)
        if users:
            named = ", ".join(f"{u.name!r} ({u.id})" for u in users)
            raise Conflict(
                f"Split {split_id!r} is used by experiment {named}: delete the experiment first",
                code="split_in_use",
                details={"experiments": [{"id": u.id, "name": u.name} for u in users]},
            )
        store.remove(ws, project_id, split_id)


def split_status(ws: Workspace, split: SplitFile) -> SplitStatus:
    """``unassigned`` / ``missing`` against the dataset now, and the experiments using it."""
    now = dataset_reader.read_dataset(ws, split.project_id).ids
    assigned = split.assignments.keys()
    return SplitStatus(
        unassigned=len(now - assigned),
        missing=len(assigned - now),
        used_by=store.experiments_using(ws, split.project_id, split.id),
    )
