"""Property-based tests of the partition invariants, for the three stratification strategies.

Invariants: every image in exactly one subset; per-class counts within 1 of the ideal
``n * ratio`` for classes of >= 3 images (single label, target bins, and presence when an
image has one class; true multi-label presence within a documented looser bound);
global subset sizes within a small bound; zero-ratio subsets empty; determinism across
input order; a different seed usually gives a different assignment.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from studio.splits.iterative import count_presence, split_by_presence
from studio.splits.schemas import SUBSETS
from studio.splits.stratify import (
    SMALL_GROUP,
    apportion,
    normalise,
    small_group_counts,
    split_by_group,
    target_bins,
)

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def ratio_triples(draw: st.DrawFn) -> tuple[float, float, float]:
    """Ratios summing to 1 with train > 0; val and/or test are sometimes exactly 0."""
    train = draw(st.integers(1, 100))
    val = draw(st.one_of(st.just(0), st.integers(0, 100)))
    test = draw(st.one_of(st.just(0), st.integers(0, 100)))
    total = train + val + test
    return (train / total, val / total, test / total)


@st.composite
def grouped_images(draw: st.DrawFn) -> dict[str, str]:
    """image id -> group key; 1-8 classes of 0-60 images, sometimes an "unlabelled" group."""
    sizes = draw(st.lists(st.integers(0, 60), min_size=1, max_size=8))
    unlabelled = draw(st.one_of(st.just(0), st.integers(0, 20)))
    groups: dict[str, str] = {}
    for c, n in enumerate(sizes):
        groups.update({f"c{c}-{j:03d}": str(c) for j in range(n)})
    groups.update({f"u-{j:03d}": "unlabelled" for j in range(unlabelled)})
    assume(groups)
    return groups


@st.composite
def label_sets(draw: st.DrawFn) -> dict[str, set[str]]:
    """image id -> set of classes present (0-4 of up to 6 classes, skewed frequencies)."""
    n_classes = draw(st.integers(1, 6))
    n = draw(st.integers(1, 120))
    rng = random.Random(draw(st.integers(0, 10_000)))
    weights = [rng.random() ** 2 + 0.01 for _ in range(n_classes)]
    out: dict[str, set[str]] = {}
    for j in range(n):
        k = rng.randint(0, min(4, n_classes))
        out[f"i{j:04d}"] = set(rng.choices([str(c) for c in range(n_classes)], weights, k=k))
    return out


seeds = st.integers(0, 2**31 - 1)


def per_group(groups: Mapping[str, str], assignments: Mapping[str, str]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for image_id, key in groups.items():
        out[key][assignments[image_id]] += 1
    return out


def assert_partition(
    ids: set[str], assignments: Mapping[str, str], ratios: tuple[float, ...]
) -> None:
    assert set(assignments) == ids
    assert set(assignments.values()) <= set(SUBSETS)
    sizes = Counter(assignments.values())
    for s, r in zip(SUBSETS, ratios, strict=True):
        if r == 0:
            assert sizes[s] == 0, f"{s} has ratio 0 but {sizes[s]} images"


def global_deviation(assignments: Mapping[str, str], ratios: tuple[float, ...]) -> float:
    sizes = Counter(assignments.values())
    n = len(assignments)
    return max(abs(sizes[s] - n * r) for s, r in zip(SUBSETS, ratios, strict=True))


# ---- single label ------------------------------------------------------------------------


@SETTINGS
@given(groups=grouped_images(), ratios=ratio_triples(), seed=seeds)
def test_group_split_invariants(
    groups: dict[str, str], ratios: tuple[float, ...], seed: int
) -> None:
    part = split_by_group(groups, ratios, seed)
    assert_partition(set(groups), part.assignments, ratios)
    small_images = 0
    for key, row in per_group(groups, part.assignments).items():
        n = sum(row.values())
        if n >= SMALL_GROUP:
            for s, r in zip(SUBSETS, ratios, strict=True):
                assert abs(row[s] - n * r) < 1 + 1e-9, (key, dict(row), n, ratios)
        else:
            small_images += n
            assert [row[s] for s in SUBSETS] == small_group_counts(n, ratios)
            assert any(w.code == "small_class" and w.group == key for w in part.warnings)
    # Global sizes: within 1 of N*ratio, plus at most one per image placed by the small-class rule.
    assert global_deviation(part.assignments, ratios) < 1 + small_images + 1e-9


@SETTINGS
@given(groups=grouped_images(), ratios=ratio_triples(), seed=seeds, shuffle=st.randoms())
def test_group_split_is_order_independent(
    groups: dict[str, str], ratios: tuple[float, ...], seed: int, shuffle: random.Random
) -> None:
    items = list(groups.items())
    shuffle.shuffle(items)
    assert (
        split_by_group(dict(items), ratios, seed).assignments
        == split_by_group(groups, ratios, seed).assignments
    )


@SETTINGS
@given(groups=grouped_images(), ratios=ratio_triples(), seed=seeds)
def test_group_split_different_seed_differs(
    groups: dict[str, str], ratios: tuple[float, ...], seed: int
) -> None:
    assume(len(groups) >= 30 and sorted(ratios)[1] >= 0.1)  # two subsets of >= 10 %
    a = split_by_group(groups, ratios, seed).assignments
    b = split_by_group(groups, ratios, seed + 1 if seed < 2**31 - 1 else 0).assignments
    assert a != b


def test_seeds_give_many_distinct_splits() -> None:
    groups = {f"i{j:03d}": str(j % 4) for j in range(100)}
    results = {
        tuple(sorted(split_by_group(groups, (0.8, 0.1, 0.1), seed).assignments.items()))
        for seed in range(20)
    }
    assert len(results) == 20


# ---- class presence (iterative stratification) ------------------------------------------


@SETTINGS
@given(labels=label_sets(), ratios=ratio_triples(), seed=seeds)
def test_presence_split_invariants(
    labels: dict[str, set[str]], ratios: tuple[float, ...], seed: int
) -> None:
    part = split_by_presence(labels, ratios, seed)
    assert_partition(set(labels), part.assignments, ratios)
    sets = {i: frozenset(labs) or frozenset({"no_objects"}) for i, labs in labels.items()}
    counts = count_presence(part.assignments, sets)
    single = all(len(s) == 1 for s in sets.values())
    small_labels = {lab for lab, row in counts.items() if sum(row) < SMALL_GROUP}
    for lab, row in counts.items():
        n = sum(row)
        if n < SMALL_GROUP:
            continue
        # Exact (within 1) when each image has one class; true multi-label: a looser bound.
        bound = 1 if single else 3
        for s, r in enumerate(ratios):
            assert abs(row[s] - n * r) < bound + 1e-9, (lab, row, n, ratios)
    small_images = sum(1 for s in sets.values() if s & small_labels)
    assert global_deviation(part.assignments, ratios) < 2 + small_images + 1e-9


@SETTINGS
@given(labels=label_sets(), ratios=ratio_triples(), seed=seeds, shuffle=st.randoms())
def test_presence_split_is_order_independent(
    labels: dict[str, set[str]], ratios: tuple[float, ...], seed: int, shuffle: random.Random
) -> None:
    items = [(i, set(sorted(labs, key=lambda _: shuffle.random()))) for i, labs in labels.items()]
    shuffle.shuffle(items)
    assert (
        split_by_presence(dict(items), ratios, seed).assignments
        == split_by_presence(labels, ratios, seed).assignments
    )


@SETTINGS
@given(labels=label_sets(), ratios=ratio_triples(), seed=seeds)
def test_presence_split_different_seed_differs(
    labels: dict[str, set[str]], ratios: tuple[float, ...], seed: int
) -> None:
    assume(len(labels) >= 30 and sorted(ratios)[1] >= 0.1)
    a = split_by_presence(labels, ratios, seed).assignments
    b = split_by_presence(labels, ratios, (seed + 1) % 2**31).assignments
    assert a != b


def test_presence_with_single_labels_equals_group_split() -> None:
    labels = {f"i{j:03d}": {str(j % 5)} for j in range(57)}
    groups = {i: next(iter(labs)) for i, labs in labels.items()}
    assert (
        split_by_presence(labels, (0.7, 0.2, 0.1), 3).assignments
        == split_by_group(groups, (0.7, 0.2, 0.1), 3).assignments
    )


def test_presence_rare_class_follows_small_rule() -> None:
    labels = {f"i{j:03d}": {"common"} for j in range(50)}
    labels["rare-a"] = {"common", "rare"}
    part = split_by_presence(labels, (0.8, 0.1, 0.1), 7)
    assert part.assignments["rare-a"] == "train"
    assert [w.group for w in part.warnings if w.code == "small_class"] == ["rare"]


# ---- target bins -------------------------------------------------------------------------


@SETTINGS
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(-1e6, 1e6), st.sampled_from([0.0, 1.0])),
        min_size=1,
        max_size=150,
    ),
    ratios=ratio_triples(),
    seed=seeds,
)
def test_binned_split_invariants(
    values: list[float | None], ratios: tuple[float, ...], seed: int
) -> None:
    by_id = {f"i{j:04d}": v for j, v in enumerate(values)}
    groups, names = target_bins(by_id)
    labelled = [v for v in values if v is not None]
    bins = Counter(g for g in groups.values() if g != "unlabelled")
    if labelled:
        assert (
            max(bins.values()) - min(bins.values()) <= 1
        )  # equal-size quantile bins, even with ties
        assert set(names) == set(bins)
    part = split_by_group(groups, ratios, seed)
    assert_partition(set(by_id), part.assignments, ratios)
    for key, row in per_group(groups, part.assignments).items():
        n = sum(row.values())
        if n >= SMALL_GROUP:
            for s, r in zip(SUBSETS, ratios, strict=True):
                assert abs(row[s] - n * r) < 1 + 1e-9, (key, dict(row))


def test_bins_are_ordered_by_value() -> None:
    values = {f"i{j:02d}": float(100 - j) for j in range(40)}
    groups, names = target_bins(values, bins=4)
    assert groups["i39"] == "bin:00" and groups["i00"] == "bin:03"
    assert names["bin:00"].startswith("61 ") and names["bin:00"].endswith(" 70")


# ---- building blocks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "ratios", "expected"),
    [
        (10, (0.8, 0.1, 0.1), [8, 1, 1]),
        (7, (0.8, 0.1, 0.1), [5, 1, 1]),  # remainders .6 < .7 = .7
        (3, (1 / 3, 1 / 3, 1 / 3), [1, 1, 1]),
        (5, (0.5, 0.5, 0.0), [3, 2, 0]),
        (0, (0.8, 0.1, 0.1), [0, 0, 0]),
        (100, (0.7, 0.2, 0.1), [70, 20, 10]),
    ],
)
def test_apportion(n: int, ratios: tuple[float, ...], expected: list[int]) -> None:
    assert apportion(n, ratios) == expected


@pytest.mark.parametrize(
    ("n", "ratios", "expected"),
    [
        (1, (0.8, 0.1, 0.1), [1, 0, 0]),
        (2, (0.8, 0.1, 0.1), [1, 1, 0]),
        (2, (0.8, 0.0, 0.2), [1, 0, 1]),
        (2, (0.6, 0.1, 0.3), [1, 0, 1]),
        (2, (1.0, 0.0, 0.0), [2, 0, 0]),
    ],
)
def test_small_group_rule(n: int, ratios: tuple[float, ...], expected: list[int]) -> None:
    assert small_group_counts(n, ratios) == expected


def test_ratios_off_by_rounding_are_normalised() -> None:
    assert normalise((0.8, 0.1, 0.1000001)) == pytest.approx((0.8, 0.1, 0.1), abs=1e-6)
    groups = {f"i{j}": "a" for j in range(1000)}
    sizes = Counter(split_by_group(groups, (0.8, 0.1, 0.1000001), 1).assignments.values())
    assert sizes == {"train": 800, "val": 100, "test": 100}


def test_missing_in_subset_warning() -> None:
    groups = {f"i{j}": "big" for j in range(40)} | {f"s{j}": "three" for j in range(3)}
    part = split_by_group(groups, (0.8, 0.1, 0.1), 0)
    codes = {(w.code, w.group) for w in part.warnings}
    assert ("missing_in_subset", "three") in codes
    assert not any(w.group == "big" for w in part.warnings)
