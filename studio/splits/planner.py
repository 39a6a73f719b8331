"""From image records and a task to a split plan: strategy, assignment, counts, warnings.

Strategy per task (see ``docs/splits.md``):

- ``label`` (classification, anomaly detection): one group per class id of
  ``annotations.label``; images without a label form the group ``unlabelled``.
- ``class_presence`` (object detection, instance segmentation, oriented detection): the
  set of class ids present in ``boxes``, ``instances`` and ``oriented_boxes``; iterative
  stratification; images without objects form the group ``no_objects``.
- ``target_bins`` (regression): rank-quantile bins of the *first* target value (about ten
  images per bin, at most 10 bins); images without a target form ``unlabelled``.
- ``labelled`` (semantic segmentation): only "has a mask" vs ``unlabelled`` is stratified;
  class presence inside masks is not read (a ``not_stratified`` warning says so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from studio.splits.iterative import split_by_presence
from studio.splits.schemas import SUBSETS, GroupCounts, SplitRatios, SplitWarning, Strategy, Subset
from studio.splits.schemas import SubsetSizes as Sizes
from studio.splits.stratify import split_by_group, target_bins
from studio.storage.dataset_schemas import ClassInfo, ImageRecord

UNLABELLED = "unlabelled"
NO_OBJECTS = "no_objects"
LABELLED = "labelled"
_SPECIAL_NAMES = {UNLABELLED: "(unlabelled)", NO_OBJECTS: "(no objects)", LABELLED: "(with mask)"}
_STRATEGIES: dict[str, Strategy] = {
    "classification": "label",
    "anomaly_detection": "label",
    "object_detection": "class_presence",
    "instance_segmentation": "class_presence",
    "oriented_object_detection": "class_presence",
    "regression": "target_bins",
    "semantic_segmentation": "labelled",
}


@dataclass
class SplitPlan:
    """A computed (not yet saved) split."""

    strategy: Strategy
    assignments: dict[str, Subset]
    sizes: Sizes
    counts: list[GroupCounts]
    warnings: list[SplitWarning] = field(default_factory=list)

    @property
    def image_count(self) -> int:
        return len(self.assignments)


def strategy_for(task: str) -> Strategy:
    """The stratification strategy of a task (unknown tasks stratify by label)."""
    return _STRATEGIES.get(task, "label")


def present_classes(record: ImageRecord) -> set[int]:
    """Class ids of every object (box, instance, oriented box) in a record."""
    a = record.annotations
    return (
        {o.class_id for o in a.boxes}
        | {o.class_id for o in a.instances}
        | {o.class_id for o in a.oriented_boxes}
    )


def _sort_key(key: str) -> tuple[int, int, str]:
    if key.isdigit():
        return (0, int(key), key)
    return (1 if key.startswith("bin:") else 2, 0, key)


def plan_split(
    task: str,
    records: Sequence[ImageRecord],
    ratios: SplitRatios,
    seed: int,
    classes: Sequence[ClassInfo] = (),
    target_names: Sequence[str] = (),
) -> SplitPlan:
    """Partition ``records`` for ``task``. ``ratios`` must already be valid (``check()``).

    Deterministic: the same set of record ids and labels, ratios and seed give the same
    plan, whatever the order of ``records``.
    """
    r = ratios.as_tuple()
    strategy = strategy_for(task)
    names = {str(c.id): c.name for c in classes} | dict(_SPECIAL_NAMES)
    warnings: list[SplitWarning] = []
    label_sets: dict[str, set[str]]
    if strategy == "class_presence":
        label_sets = {rec.id: {str(c) for c in present_classes(rec)} for rec in records}
        for labs in label_sets.values():
            names.update({lab: f"class {lab}" for lab in labs if lab not in names})
        part = split_by_presence(label_sets, r, seed, names, empty_key=NO_OBJECTS)
        label_sets = {i: labs or {NO_OBJECTS} for i, labs in label_sets.items()}
    else:
        groups = _single_groups(strategy, records, names, target_names)
        part = split_by_group(groups, r, seed, names)
        label_sets = {i: {g} for i, g in groups.items()}
        if strategy == "labelled" and records:
            warnings.append(SplitWarning(
                code="not_stratified",
                message="Semantic segmentation splits are stratified by 'has a mask' only: "
                "the classes inside masks are not read.",
            ))  # fmt: skip
    sizes = _sizes(part.assignments)
    counts = _counts(part.assignments, label_sets, names)
    return SplitPlan(
        strategy=strategy,
        assignments=part.assignments,
        sizes=sizes,
        counts=counts,
        warnings=warnings + coverage_warnings(strategy, sizes, counts) + part.warnings,
    )


_SUBSET_NAMES = {"train": "Train", "val": "Validation", "test": "Test"}
_EMPTY_WHY = {
    "train": "there is nothing to learn from",
    "val": "training needs validation images to pick the best epoch and will refuse this split",
    "test": "no held-out images are left to evaluate the model or check an export on",
}

_SMALL_WHY = {
    "train": "the model cannot learn every class",
    "val": "choosing the best epoch ignores some classes",
    "test": "its metrics leave some classes out",
}


def coverage_warnings(
    strategy: Strategy, sizes: Sizes, counts: Sequence[GroupCounts]
) -> list[SplitWarning]:
    """Warnings about subsets that cannot do their job (the split is still allowed).

    - ``empty_subset`` (group = the subset): a subset gets no image at all, whether its
      ratio is 0 or rounding left it empty.
    - ``subset_too_small`` (group = the subset): single-label classes (strategy ``label``):
      a non-empty subset with fewer images than there are classes cannot hold every class.
      (With ``class_presence`` an image holds several classes, so the count proves nothing.)
      A class with no image in a subset is the stratifiers' ``missing_in_subset`` /
      ``small_class`` warning.
    """
    out: list[SplitWarning] = []
    classes = [c for c in counts if c.key.isdigit()]  # real classes, not "unlabelled"
    for subset in SUBSETS:
        n = getattr(sizes, subset)
        name = _SUBSET_NAMES[subset]
        if n == 0:
            out.append(SplitWarning(
                code="empty_subset", group=subset,
                message=f"{name} is empty (0 images): {_EMPTY_WHY[subset]}.",
            ))  # fmt: skip
        elif strategy == "label" and n < len(classes):
            out.append(SplitWarning(
                code="subset_too_small", group=subset,
                message=f"{name} has {n} image{'s' if n != 1 else ''} for {len(classes)} classes: "
                f"it cannot contain every class, so {_SMALL_WHY[subset]}.",
            ))  # fmt: skip
    return out


def _single_groups(
    strategy: Strategy,
    records: Sequence[ImageRecord],
    names: dict[str, str],
    target_names: Sequence[str],
) -> dict[str, str]:
    if strategy == "target_bins":
        values = {
            rec.id: (rec.annotations.target[0] if rec.annotations.target else None)
            for rec in records
        }
        groups, bin_names = target_bins(values, unlabelled_key=UNLABELLED)
        target = target_names[0] if target_names else "target"
        names.update({k: f"{target} {v}" for k, v in bin_names.items()})
        return groups
    if strategy == "labelled":
        return {rec.id: LABELLED if rec.annotations.mask_path else UNLABELLED for rec in records}
    out: dict[str, str] = {}
    for rec in records:
        label = rec.annotations.label
        out[rec.id] = UNLABELLED if label is None else str(label)
        if label is not None and str(label) not in names:
            names[str(label)] = f"class {label}"
    return out


def _sizes(assignments: dict[str, Subset]) -> Sizes:
    c = Counter(assignments.values())
    return Sizes(train=c["train"], val=c["val"], test=c["test"])


def _counts(
    assignments: dict[str, Subset], label_sets: dict[str, set[str]], names: dict[str, str]
) -> list[GroupCounts]:
    table: dict[str, Counter[str]] = {}
    for image_id, labs in label_sets.items():
        for lab in labs:
            table.setdefault(lab, Counter())[assignments[image_id]] += 1
    for lab in table:
        if lab.isdigit() and lab not in names:
            names[lab] = f"class {lab}"
    return [
        GroupCounts(
            key=key, name=names.get(key, key), total=sum(row.values()),
            **{s: row[s] for s in SUBSETS},
        )
        for key, row in sorted(table.items(), key=lambda kv: _sort_key(kv[0]))
    ]  # fmt: skip
