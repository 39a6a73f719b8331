"""``projects/<project_id>/splits/<split_id>.json``: one saved, immutable split.

A split records which subset (``train``, ``val`` or ``test``) each image present at
its creation belongs to. Once written, ``assignments`` never change; only ``name``
may be edited. Images imported later are simply "not in this split".
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import Field

from studio.errors import ValidationFailed
from studio.storage.schemas import StrictModel, utcnow

Subset = Literal["train", "val", "test"]
SUBSETS: tuple[Subset, Subset, Subset] = ("train", "val", "test")
Strategy = Literal["label", "class_presence", "target_bins", "labelled"]
RATIO_TOLERANCE = 1e-6


class SplitRatios(StrictModel):
    """Fractions of the images that go to each subset; they sum to 1 (± 1e-6)."""

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.train, self.val, self.test)

    def check(self) -> SplitRatios:
        """Return self, or raise ``ValidationFailed`` (``invalid_ratios``) saying what is wrong.

        Rules: every ratio is a finite number >= 0, ``train`` > 0, and they sum to 1.
        A ratio of 0 for ``val`` or ``test`` is allowed (that subset stays empty).
        """
        problems: list[str] = []
        values = dict(zip(SUBSETS, self.as_tuple(), strict=True))
        for name, value in values.items():
            if not math.isfinite(value):
                problems.append(f"{name} must be a number")
            elif value < 0:
                problems.append(f"{name} cannot be negative (got {value:g})")
        if not problems and self.train <= 0:
            problems.append("train must be greater than 0: a split needs training images")
        total = sum(self.as_tuple())
        if not problems and abs(total - 1.0) > RATIO_TOLERANCE:
            problems.append(f"train + val + test must sum to 1 (got {total:.6g})")
        if problems:
            raise ValidationFailed(
                "Invalid split ratios: " + "; ".join(problems),
                code="invalid_ratios",
                details={"ratios": problems},
            )
        return self

    def normalised(self) -> tuple[float, float, float]:
        """The ratios scaled to sum to exactly 1 (they may be off by up to 1e-6)."""
        total = sum(self.as_tuple())
        return (self.train / total, self.val / total, self.test / total)


class SplitWarning(StrictModel):
    """Something the user should know about a split (it was still made)."""

    # "small_class", "missing_in_subset", "unreadable_records", "not_stratified",
    # "empty_subset", "subset_too_small"
    code: str
    message: str
    # the group key it concerns, if any; for "empty_subset" / "subset_too_small" the subset
    group: str | None = None


class SubsetSizes(StrictModel):
    train: int = 0
    val: int = 0
    test: int = 0


class GroupCounts(StrictModel):
    """How the images of one stratification group (class, target bin, …) were split.

    For the ``class_presence`` strategy an image counts once in every class it contains,
    so group totals can add up to more than the image count.
    """

    key: str  # class id as a string, "bin:03", "unlabelled", "no_objects", "labelled"
    name: str  # display name at creation time
    total: int
    train: int
    val: int
    test: int


class SplitFile(StrictModel):
    """``splits/<split_id>.json``: the assignment and what it looked like when made."""

    schema_version: Literal[1] = 1
    id: str
    project_id: str
    name: str = Field(min_length=1, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    task: str
    strategy: Strategy
    ratios: SplitRatios
    seed: int
    image_count: int
    sizes: SubsetSizes
    counts: list[GroupCounts] = Field(default_factory=list)
    warnings: list[SplitWarning] = Field(default_factory=list)
    assignments: dict[str, Subset] = Field(default_factory=dict)
