"""Test data: projects and datasets written straight into the workspace (dataset contract)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from studio.storage import project_store
from studio.storage.dataset_schemas import (
    Annotations,
    Box,
    ClassInfo,
    DatasetFile,
    ImageRecord,
    ImportSummary,
)
from studio.storage.jsonio import write_json_atomic
from studio.storage.paths import Workspace
from tests.members import alice_owns


def image_id(n: int, salt: str = "") -> str:
    return hashlib.sha256(f"{salt}image-{n}".encode()).hexdigest()[:16]


def record(
    image: str, annotations: Annotations | None = None, import_id: str = "imp1"
) -> ImageRecord:
    return ImageRecord(
        id=image, original_name=f"{image}.png", path=f"images/{image[:2]}/{image}.png",
        thumb_path=f"thumbs/{image[:2]}/{image}.jpg", width=8, height=8, format="PNG", bytes=100,
        sha256=image * 4, import_id=import_id, annotations=annotations or Annotations(),
    )  # fmt: skip


def labelled(labels: Sequence[int | None], salt: str = "") -> list[ImageRecord]:
    """One classification record per label (``None`` = unlabelled)."""
    return [record(image_id(i, salt), Annotations(label=lab)) for i, lab in enumerate(labels)]


def detections(class_sets: Sequence[Sequence[int]], salt: str = "") -> list[ImageRecord]:
    return [
        record(
            image_id(i, salt), Annotations(boxes=[Box(class_id=c, xyxy=(0, 0, 1, 1)) for c in cs])
        )
        for i, cs in enumerate(class_sets)
    ]


def targets(values: Sequence[float | None], salt: str = "") -> list[ImageRecord]:
    return [
        record(image_id(i, salt), Annotations(target=None if v is None else [v]))
        for i, v in enumerate(values)
    ]


def make_project(ws: Workspace, task: str = "classification", name: str = "Digits") -> str:
    return project_store.create(ws, name, task, members=alice_owns()).id


def write_dataset(
    ws: Workspace,
    project_id: str,
    records: Sequence[ImageRecord],
    class_names: Sequence[str] = ("cat", "dog", "bird"),
    target_names: Sequence[str] = (),
    import_ids: Sequence[str] = ("imp1",),
) -> None:
    """``dataset.json`` (committed imports) plus one ``meta/<id[:2]>/<id>.json`` per record."""
    root = ws.project_dir(project_id) / "dataset"
    for rec in records:
        write_json_atomic(root / "meta" / rec.id[:2] / f"{rec.id}.json", rec)
    dataset = DatasetFile(
        project_id=project_id,
        classes=[ClassInfo(id=i, name=n, color="#336699") for i, n in enumerate(class_names)],
        target_names=list(target_names),
        image_count=len(list((root / "meta").glob("*/*.json"))),
        imports=[
            ImportSummary(id=i, format="folders", source="test", status="committed",
                          added=0, duplicates=0, skipped=0)
            for i in import_ids
        ],
    )  # fmt: skip
    write_json_atomic(root / "dataset.json", dataset)


def counts_by_key(body: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {row["key"]: row for row in body["counts"]}
