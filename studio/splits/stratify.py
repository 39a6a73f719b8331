"""The partition algorithms: pure functions from image ids (+ their labels) to subsets.

Contracts shared by every function here:

- Every input image id is assigned to exactly one of ``train``/``val``/``test``.
- The result depends only on the *set* of inputs, the ratios and the seed: inputs are
  sorted by image id first, and every random choice comes from ``random.Random`` seeded
  with a string built from the seed (stable across processes and Python runs).
- A subset whose ratio is 0 receives nothing.
- Groups (classes) with fewer than :data:`SMALL_GROUP` images follow the small-class rule
  (:func:`small_group_counts`) and produce a ``small_class`` warning; they never raise.

Single-label stratification (:func:`split_by_group`) gives each group ``floor(n*r)`` images
per subset and places the rounding leftovers (at most 2 per group) so that each group's
count stays within 1 of its ideal ``n*r`` *and* the global subset sizes hit the global
largest-remainder apportionment whenever that is possible (a small b-matching solved with
augmenting paths); otherwise they stay as close as the per-group rule allows.

Multi-label stratification lives in :mod:`studio.splits.iterative`.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from studio.splits.schemas import SUBSETS, SplitWarning, Subset

SMALL_GROUP = 3  # groups with fewer images than this follow the small-class rule
_EPS = 1e-9
Ratios = Sequence[float]


@dataclass
class Partition:
    """An assignment and the warnings produced while making it."""

    assignments: dict[str, Subset]
    warnings: list[SplitWarning] = field(default_factory=list)


def normalise(ratios: Ratios) -> tuple[float, float, float]:
    """Scale three non-negative ratios (train > 0) to sum to exactly 1."""
    if len(ratios) != 3 or ratios[0] <= 0 or min(ratios) < 0:
        raise ValueError(f"need three ratios >= 0 with train > 0, got {ratios!r}")
    total = float(sum(ratios))
    return (ratios[0] / total, ratios[1] / total, ratios[2] / total)


def _floor_and_fraction(value: float) -> tuple[int, float]:
    whole = math.floor(value + _EPS)
    return whole, max(0.0, value - whole)


def apportion(n: int, ratios: Ratios) -> list[int]:
    """Largest-remainder apportionment of ``n`` by ``ratios`` (ties: train, val, test)."""
    r = normalise(ratios)
    parts = [_floor_and_fraction(n * x) for x in r]
    counts = [p[0] for p in parts]
    order = sorted(range(3), key=lambda s: (-parts[s][1], s))
    for s in order[: n - sum(counts)]:
        counts[s] += 1
    return counts


def small_group_counts(n: int, ratios: Ratios) -> list[int]:
    """The small-class rule, for groups of 1 or 2 images.

    - 1 image: it goes to train.
    - 2 images: one to train; the other to val, or to test when test's ratio is larger
      than val's; when both val and test are 0, both go to train.
    """
    r = normalise(ratios)
    if n <= 1:
        return [n, 0, 0]
    if n != 2:
        raise ValueError("the small-class rule is for groups of 1 or 2 images")
    if r[1] == 0 and r[2] == 0:
        return [2, 0, 0]
    return [1, 0, 1] if r[2] > r[1] else [1, 1, 0]


def group_targets(n: int, ratios: Ratios) -> list[int]:
    """Per-subset image counts for one group on its own: small-class rule, else apportionment."""
    return small_group_counts(n, ratios) if n < SMALL_GROUP else apportion(n, ratios)


def small_class_warning(key: str, name: str, counts: Sequence[int]) -> SplitWarning:
    where = " and ".join(f"{c} in {s}" for s, c in zip(SUBSETS, counts, strict=True) if c)
    n = sum(counts)
    return SplitWarning(
        code="small_class",
        group=key,
        message=f"{name} has only {n} image{'s' if n != 1 else ''}, too few to split: {where}.",
    )


def missing_warnings(
    counts: Mapping[str, Sequence[int]], ratios: Ratios, names: Mapping[str, str]
) -> list[SplitWarning]:
    """A warning for each group (of >= SMALL_GROUP images) absent from a requested subset."""
    out = []
    for key, row in counts.items():
        if sum(row) < SMALL_GROUP:
            continue
        empty = [s for s, c, r in zip(SUBSETS, row, ratios, strict=True) if r > 0 and c == 0]
        if empty:
            out.append(SplitWarning(
                code="missing_in_subset", group=key,
                message=f"{names.get(key, key)} ({sum(row)} images) has none in "
                f"{' or '.join(empty)}.",
            ))  # fmt: skip
    return out


def seeded_rng(seed: int, salt: str) -> random.Random:
    return random.Random(f"studio-split:{seed}:{salt}")


def seeded_shuffle(items: Iterable[str], seed: int, salt: str) -> list[str]:
    out = sorted(items)
    seeded_rng(seed, salt).shuffle(out)
    return out


# ---- single label --------------------------------------------------------------------


def split_by_group(
    groups: Mapping[str, str], ratios: Ratios, seed: int, names: Mapping[str, str] | None = None
) -> Partition:
    """Stratify by one group key per image (class id, target bin, "unlabelled", …).

    Each group of n >= 3 images gets ``floor(n*r)`` or ``floor(n*r)+1`` images in each
    subset (so within 1 of the ideal); groups of 1-2 follow :func:`small_group_counts`.
    """
    r = normalise(ratios)
    names = names or {}
    members: dict[str, list[str]] = defaultdict(list)
    for image_id in sorted(groups):
        members[groups[image_id]].append(image_id)
    counts: dict[str, list[int]] = {}
    warnings: list[SplitWarning] = []
    fixed = [0, 0, 0]
    floors: dict[str, list[int]] = {}
    fracs: dict[str, list[float]] = {}
    for key in sorted(members):
        n = len(members[key])
        if n < SMALL_GROUP:
            counts[key] = small_group_counts(n, r)
            fixed = [a + b for a, b in zip(fixed, counts[key], strict=True)]
            warnings.append(small_class_warning(key, names.get(key, key), counts[key]))
            continue
        parts = [_floor_and_fraction(n * x) for x in r]
        floors[key] = [p[0] for p in parts]
        fracs[key] = [p[1] if p[1] > _EPS else 0.0 for p in parts]
    target = apportion(len(groups), r)
    base = [sum(f[s] for f in floors.values()) + fixed[s] for s in range(3)]
    capacity = [max(0, target[s] - base[s]) for s in range(3)]
    order = seeded_shuffle(floors, seed, "leftovers")
    need = {k: len(members[k]) - sum(floors[k]) for k in order}
    ideal = [len(groups) * x for x in r]
    extra = _place_leftovers(order, need, fracs, capacity, base, ideal)
    for key in floors:
        counts[key] = [floors[key][s] + extra[key][s] for s in range(3)]
    assignments: dict[str, Subset] = {}
    for key, row in counts.items():
        shuffled = seeded_shuffle(members[key], seed, f"group:{key}")
        start = 0
        for s, c in enumerate(row):
            for image_id in shuffled[start : start + c]:
                assignments[image_id] = SUBSETS[s]
            start += c
    warnings += missing_warnings(counts, r, names)
    return Partition(assignments, warnings)


def _place_leftovers(
    order: list[str],
    need: dict[str, int],
    fracs: dict[str, list[float]],
    capacity: list[int],
    base: list[int],
    ideal: list[float],
) -> dict[str, list[int]]:
    """Give each group ``need[k]`` extra images, at most one per subset with a fraction > 0.

    A b-matching: groups supply ``need``, subsets accept up to ``capacity``. Greedy by
    largest fraction first, then augmenting paths (a group may move its extra image to
    another allowed subset to free room), then — only if the global targets cannot all be
    met — the remaining extras go where the global size is furthest below its ideal.
    """
    used = {k: [0, 0, 0] for k in order}
    holders: list[set[str]] = [set(), set(), set()]
    load = [0, 0, 0]
    left = dict(need)
    rank = {k: i for i, k in enumerate(order)}
    cells = sorted(
        ((k, s) for k in order for s in range(3) if fracs[k][s] > 0),
        key=lambda c: (-fracs[c[0]][c[1]], rank[c[0]], c[1]),
    )

    def take(k: str, s: int) -> None:
        used[k][s] = 1
        holders[s].add(k)
        load[s] += 1
        left[k] -= 1

    for k, s in cells:
        if left[k] > 0 and load[s] < capacity[s]:
            take(k, s)
    for k in order:
        while left[k] > 0 and _augment(k, used, holders, load, capacity, fracs):
            left[k] -= 1
    for k in order:
        while left[k] > 0:
            allowed = [s for s in range(3) if fracs[k][s] > 0 and not used[k][s]]
            s = min(allowed, key=lambda t: (base[t] + load[t] - ideal[t], t))
            take(k, s)
    return used


def _augment(
    start: str,
    used: dict[str, list[int]],
    holders: list[set[str]],
    load: list[int],
    capacity: list[int],
    fracs: dict[str, list[float]],
) -> bool:
    """Find and apply an augmenting path from group ``start`` to a subset with room."""
    parent: dict[int, str] = {}  # subset -> group that would enter it
    came_from: dict[str, int] = {}  # group -> subset it would leave (absent for start)
    frontier = [start]
    seen_groups = {start}
    while frontier:
        nxt: list[str] = []
        for g in frontier:
            for s in range(3):
                if s in parent or fracs[g][s] <= 0 or used[g][s]:
                    continue
                parent[s] = g
                if load[s] < capacity[s]:
                    _apply_path(s, parent, came_from, used, holders, load)
                    return True
                for h in sorted(holders[s]):
                    if h not in seen_groups:
                        seen_groups.add(h)
                        came_from[h] = s
                        nxt.append(h)
        frontier = nxt
    return False


def _apply_path(
    end: int,
    parent: dict[int, str],
    came_from: dict[str, int],
    used: dict[str, list[int]],
    holders: list[set[str]],
    load: list[int],
) -> None:
    s = end
    load[end] += 1
    while True:
        g = parent[s]
        used[g][s] = 1
        holders[s].add(g)
        if g not in came_from:
            return
        prev = came_from[g]
        used[g][prev] = 0
        holders[prev].discard(g)
        s = prev


# ---- regression ----------------------------------------------------------------------


def default_bin_count(n: int) -> int:
    """About ten images per bin, between 1 and 10 bins."""
    return max(1, min(10, n // 10))


def target_bins(
    values: Mapping[str, float | None], bins: int | None = None, unlabelled_key: str = "unlabelled"
) -> tuple[dict[str, str], dict[str, str]]:
    """Quantile bins by rank: returns (image id -> bin key, bin key -> display name).

    Images with a missing or non-finite value get ``unlabelled_key``. Labelled images are
    ordered by (value, id) and cut into ``bins`` groups of equal size (±1), so ties in
    the value never produce empty bins. Bin keys are ``bin:00``, ``bin:01``, …
    """
    good = sorted(
        ((v, i) for i, v in values.items() if v is not None and math.isfinite(v)),
    )
    count = bins or default_bin_count(len(good))
    groups: dict[str, str] = {i: unlabelled_key for i in values}
    edges: dict[str, list[float]] = {}
    for rank, (value, image_id) in enumerate(good):
        key = f"bin:{rank * count // len(good):02d}"
        groups[image_id] = key
        edges.setdefault(key, [value, value])[1] = value
    names = {key: f"{lo:.4g} \u2013 {hi:.4g}" for key, (lo, hi) in edges.items()}
    return groups, names
