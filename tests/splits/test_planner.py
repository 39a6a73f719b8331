"""Planner (task -> strategy -> plan) and the dataset reader, without Django."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.errors import ValidationFailed
from studio.splits import dataset_reader, manager
from studio.splits.planner import plan_split, strategy_for
from studio.splits.schemas import SplitRatios
from studio.storage import project_store
from studio.storage.dataset_schemas import Annotations, ClassInfo, Instance, OrientedBox
from studio.storage.paths import Workspace
from tests.splits.helpers import (
    detections,
    image_id,
    labelled,
    make_project,
    record,
    targets,
    write_dataset,
)


@pytest.mark.parametrize(
    ("task", "strategy"),
    [
        ("classification", "label"), ("anomaly_detection", "label"),
        ("object_detection", "class_presence"), ("instance_segmentation", "class_presence"),
        ("oriented_object_detection", "class_presence"), ("regression", "target_bins"),
        ("semantic_segmentation", "labelled"),
    ],
)  # fmt: skip
def test_strategy_per_task(task: str, strategy: str) -> None:
    assert strategy_for(task) == strategy


@settings(max_examples=25, deadline=None)
@given(
    task=st.sampled_from(["classification", "object_detection", "regression"]),
    seed=st.integers(0, 2**31 - 1),
    order=st.randoms(),
)
def test_plan_is_deterministic_and_order_independent(
    task: str, seed: int, order: random.Random
) -> None:
    rng = random.Random(seed)
    if task == "classification":
        records = labelled([rng.choice([0, 1, 2, None]) for _ in range(60)])
    elif task == "object_detection":
        records = detections([rng.sample(range(4), rng.randint(0, 3)) for _ in range(60)])
    else:
        records = targets([rng.choice([None, rng.random()]) for _ in range(60)])
    ratios = SplitRatios(train=0.7, val=0.2, test=0.1)
    a = plan_split(task, records, ratios, seed)
    shuffled = list(records)
    order.shuffle(shuffled)
    b = plan_split(task, shuffled, ratios, seed)
    assert a.assignments == b.assignments and a.counts == b.counts
    assert a.sizes.train + a.sizes.val + a.sizes.test == 60 == a.image_count


def test_presence_counts_every_object_kind() -> None:
    recs = [
        record(image_id(1), Annotations(instances=[Instance(class_id=0), Instance(class_id=0)])),
        record(
            image_id(2),
            Annotations(oriented_boxes=[OrientedBox(class_id=1, cx=1, cy=1, w=1, h=1, angle=0)]),
        ),
        record(image_id(3)),
    ]
    plan = plan_split(
        "instance_segmentation",
        recs,
        SplitRatios(),
        0,
        [ClassInfo(id=0, name="a", color="#000000")],
    )
    assert {(c.key, c.name, c.total) for c in plan.counts} == {
        ("0", "a", 1),
        ("1", "class 1", 1),
        ("no_objects", "(no objects)", 1),
    }


def test_semantic_segmentation_warns_not_stratified() -> None:
    recs = [
        record(image_id(i), Annotations(mask_path=f"masks/{i}.png" if i % 2 else None))
        for i in range(10)
    ]
    plan = plan_split("semantic_segmentation", recs, SplitRatios(), 0)
    assert plan.warnings[0].code == "not_stratified"
    assert {c.key for c in plan.counts} == {"labelled", "unlabelled"}


def test_reader_skips_damaged_and_uncommitted(workspace: Workspace) -> None:
    pid = make_project(workspace)
    recs = labelled([0, 1, 1, 0])
    write_dataset(workspace, pid, [*recs, record(image_id(9), import_id="imp-other")])
    meta = workspace.project_dir(pid) / "dataset" / "meta"
    (meta / recs[0].id[:2] / f"{recs[0].id}.json").write_text("{nope")
    snap = dataset_reader.read_dataset(workspace, pid)
    assert snap.ids == {r.id for r in recs[1:]}
    assert snap.unreadable == [f"{recs[0].id}.json"]
    assert [c.name for c in snap.classes] == ["cat", "dog", "bird"]
    plan = manager.preview(workspace, project_store.load(workspace, pid), SplitRatios(), 0)
    assert plan.warnings[0].code == "unreadable_records"
    # The cache notices a rewritten record.
    write_dataset(workspace, pid, labelled([2], salt="x"))
    (meta / recs[1].id[:2] / f"{recs[1].id}.json").write_text(
        record(recs[1].id, Annotations(label=2)).model_dump_json()
    )
    again = {r.id: r for r in dataset_reader.read_dataset(workspace, pid).records}
    assert again[recs[1].id].annotations.label == 2


def test_reader_without_dataset(workspace: Workspace) -> None:
    pid = make_project(workspace)
    snap = dataset_reader.read_dataset(workspace, pid)
    assert snap.records == [] and snap.unreadable == []
    with pytest.raises(ValidationFailed) as err:
        manager.preview(workspace, project_store.load(workspace, pid), SplitRatios(), 0)
    assert err.value.code == "empty_dataset"


@pytest.mark.parametrize(
    "ratios",
    [
        SplitRatios(train=0.8, val=0.1, test=0.2),
        SplitRatios(train=0, val=0.5, test=0.5),
        SplitRatios(train=1.1, val=-0.1, test=0),
        SplitRatios(train=float("nan"), val=0.5, test=0.5),
    ],
)  # fmt: skip
def test_invalid_ratios(ratios: SplitRatios) -> None:
    with pytest.raises(ValidationFailed) as err:
        ratios.check()
    assert err.value.code == "invalid_ratios" and err.value.details["ratios"]
