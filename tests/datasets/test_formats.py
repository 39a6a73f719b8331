"""Each import format on good data, and every bad input it must report (not crash on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from studio.datasets import store
from studio.errors import ValidationFailed
from studio.storage.paths import Workspace
from tests.datasets.helpers import class_tree, coco_file, dataset_snapshot, reasons, write_image

pytestmark = pytest.mark.django_db


def records(ws: Workspace, project_id: str) -> dict[str, Any]:
    return {r.original_name: r for r in store.iter_records(ws, project_id)}


# ---- class folders -------------------------------------------------------------


def test_class_folders_with_split_parents(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    root = tmp_path / "pets"
    class_tree(root / "train", {"cat": 3, "dog": 2})
    class_tree(root / "val", {"cat": 1, "dog": 1}, start_seed=100)
    write_image(root / "test" / "bird" / "b.png", 500)
    report = do_import(root)
    assert report.status == "committed" and report.added == 8 and not report.issues
    dataset = store.load_dataset(workspace, project.id)
    assert [c.name for c in dataset.classes] == ["bird", "cat", "dog"]
    ids = {c.name: c.id for c in dataset.classes}
    got = records(workspace, project.id)
    assert got["train/cat/cat_000.jpg"].annotations.label == ids["cat"]
    assert got["val/cat/cat_000.jpg"].annotations.label == ids["cat"]
    assert got["test/bird/b.png"].annotations.label == ids["bird"]
    assert got["test/bird/b.png"].format == "PNG"
    record = got["train/dog/dog_001.jpg"]
    assert record.id == record.sha256[:16] and record.format == "JPEG"
    assert (workspace.project_dir(project.id) / "dataset" / record.path).is_file()
    assert (workspace.project_dir(project.id) / "dataset" / record.thumb_path).is_file()
    assert record.path == f"images/{record.sha256[:2]}/{record.sha256}.jpg"


def test_class_ids_are_stable_across_imports(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    do_import(class_tree(tmp_path / "a", {"dog": 1, "cat": 1}))
    do_import(class_tree(tmp_path / "b", {"ant": 1, "cat": 1}, start_seed=10))
    classes = {c.name: c.id for c in store.load_dataset(workspace, project.id).classes}
    assert classes == {"cat": 0, "dog": 1, "ant": 2}


def test_class_folders_report_stray_files(tmp_path: Path, project: Any, do_import: Any) -> None:
    root = class_tree(tmp_path / "pets", {"cat": 2})
    write_image(root / "loose.jpg", 7)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / ".hidden.jpg").write_bytes(b"ignored")
    report = do_import(root)
    assert report.added == 2
    why = reasons(report)
    assert "not inside a class folder" in why["loose.jpg"]
    assert "cat/notes.txt" not in why  # not an image: counted by extension, not listed
    assert why["(not images)"] == "1 file skipped (not images): .txt \u00d71"
    assert ".hidden.jpg" not in why
    assert report.skipped == 2


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path, project: Any, do_import: Any) -> None:
    root = class_tree(tmp_path / "pets", {"cat": 1})
    outside = write_image(tmp_path / "secret" / "s.jpg", 99)
    (root / "cat" / "link.jpg").symlink_to(outside)
    report = do_import(root)
    assert report.added == 1
    assert "outside the import folder" in reasons(report)["cat/link.jpg"]


# ---- CSV --------------------------------------------------------------------------


def test_csv_labels_with_header(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    root = tmp_path / "csv"
    for i in range(4):
        write_image(root / "img" / f"{i}.jpg", i)
    (root / "labels.csv").write_text(
        "filename,label\nimg/0.jpg,cat\nimg/1.jpg,dog\nimg\\2.jpg,cat\nimg/3.jpg,10\n"
    )
    report = do_import(root, "csv")
    assert report.added == 4 and not report.issues
    dataset = store.load_dataset(workspace, project.id)
    assert [c.name for c in dataset.classes] == ["10", "cat", "dog"]
    assert records(workspace, project.id)["img/2.jpg"].annotations.label == 1


def test_csv_numeric_targets(
    tmp_path: Path, workspace: Workspace, regression_project: Any, do_import: Any
) -> None:
    root = tmp_path / "csv"
    for i in range(3):
        write_image(root / f"{i}.png", i)
    (root / "t.csv").write_text("path;age;weight\n0.png;3;1.5\n1.png;4.25;2\n2.png;5;-1e2\n")
    report = do_import(root, "csv", project_id=regression_project.id)
    assert report.added == 3, report.issues
    dataset = store.load_dataset(workspace, regression_project.id)
    assert dataset.target_names == ["age", "weight"] and dataset.classes == []
    got = records(workspace, regression_project.id)
    assert got["1.png"].annotations.target == [4.25, 2.0]
    assert got["2.png"].annotations.target == [5.0, -100.0]


def test_csv_without_header(
    tmp_path: Path, workspace: Workspace, regression_project: Any, do_import: Any
) -> None:
    root = tmp_path / "csv"
    write_image(root / "a.jpg", 1)
    (root / "t.csv").write_text("a.jpg,0.5\n")
    do_import(root, "csv", project_id=regression_project.id)
    assert store.load_dataset(workspace, regression_project.id).target_names == ["target"]


def test_csv_malformed_rows_are_reported(
    tmp_path: Path, workspace: Workspace, regression_project: Any, do_import: Any
) -> None:
    root = tmp_path / "csv"
    for i in range(3):
        write_image(root / f"{i}.jpg", i)
    (tmp_path / "outside.jpg").write_bytes(b"x")
    rows = [
        "path,value",
        "0.jpg,1",  # good
        "1.jpg,abc",  # not a number
        "2.jpg,1,2",  # too many columns
        ",3",  # empty path
        "../outside.jpg,4",  # outside the folder
        "/etc/passwd.jpg,5",  # absolute
        "missing.jpg,6",  # not there
        "0.jpg,7",  # listed twice
        "notes.txt,8",  # not an image name
        "1.jpg,nan",  # not finite
    ]
    (root / "t.csv").write_text("\n".join(rows) + "\n")
    report = do_import(root, "csv", project_id=regression_project.id)
    assert report.added == 1
    # each row is named by file and line; no cell of the CSV is quoted back
    assert [f"{i.file}: {i.reason}" for i in report.issues] == [
        "t.csv:3: not a number in value",
        "t.csv:4: expected 2 columns, found 3",
        "t.csv:5: the image path is empty",
        "t.csv:6: the image path points outside the import folder",
        "t.csv:7: the image path points outside the import folder",
        "t.csv:8: the image path does not exist in the folder",
        "t.csv:9: the image is listed twice (first on line 2)",
        "t.csv:10: the image path does not name an image file (.jpg, .png\u2026)",
        "t.csv:11: not a number in value",
    ]
    assert report.skipped == len(report.issues) == 9


def test_csv_that_is_not_text_fails_without_changes(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    do_import(class_tree(tmp_path / "first", {"cat": 2}))
    before = dataset_snapshot(workspace.project_dir(project.id) / "dataset")
    root = tmp_path / "csv"
    write_image(root / "a.jpg", 50)
    (root / "t.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        do_import(root, "csv")
    assert dataset_snapshot(workspace.project_dir(project.id) / "dataset") == before


# ---- COCO -------------------------------------------------------------------------


def coco_payload() -> dict[str, Any]:
    mask = np.zeros((32, 48), dtype=np.uint8, order="F")
    mask[4:10, 5:20] = 1
    rle = mask_utils.encode(mask)
    return {
        "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}],
        "images": [
            {"id": 1, "file_name": "images/a.jpg", "width": 48, "height": 32},
            {"id": 2, "file_name": "images/b.jpg", "width": 48, "height": 32},
            {"id": 3, "file_name": "images/c.jpg", "width": 48, "height": 32},
            {"id": 4, "file_name": "images/d.jpg", "width": 48, "height": 32},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 5]},
            {"id": 11, "image_id": 1, "category_id": 1, "bbox": [20, 2, 5, 5],
             "segmentation": [[20, 2, 25, 2, 25, 7, 20, 7]]},
            {"id": 12, "image_id": 2, "category_id": 3, "iscrowd": 1,
             "segmentation": {"size": [32, 48], "counts": rle["counts"].decode()}},
            {"id": 13, "image_id": 3, "category_id": 1, "bbox": [0, 0, 4, 4]},
            {"id": 14, "image_id": 3, "category_id": 3, "bbox": [5, 5, 4, 4],
             "segmentation": {"size": [32, 48], "counts": [100, 20, 1416]}},
        ],
    }  # fmt: skip


def coco_tree(root: Path, payload: dict[str, Any]) -> Path:
    for i, name in enumerate("abcd"):
        write_image(root / "images" / f"{name}.jpg", 300 + i)
    coco_file(root / "annotations" / "instances.json", payload)
    return root


def test_coco_boxes_polygons_rle(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    report = do_import(coco_tree(tmp_path / "coco", coco_payload()), "coco")
    assert report.added == 4, report.issues
    classes = {c.name: c.id for c in store.load_dataset(workspace, project.id).classes}
    got = records(workspace, project.id)
    a, b, c, d = (got[f"images/{n}.jpg"].annotations for n in "abcd")
    assert a.label == classes["cat"]
    assert [box.xyxy for box in a.boxes] == [(1, 2, 11, 7), (20, 2, 25, 7)]
    assert a.instances[0].polygons == [[20, 2, 25, 2, 25, 7, 20, 7]]
    assert b.label == classes["dog"] and b.instances[0].rle is not None
    assert b.boxes[0].xyxy == (5, 4, 20, 10)  # computed from the RLE
    assert c.label is None and len(c.boxes) == 2  # two categories: no label, boxes kept
    assert c.instances[0].rle is not None and c.instances[0].rle.size == (32, 48)
    assert d.label is None
    why = reasons(report)
    assert "2 categories (cat, dog)" in why["images/c.jpg"]
    assert "no annotations" in why["images/d.jpg"]
    assert report.skipped == 0  # warnings only


def test_coco_bad_entries_are_reported(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    payload = coco_payload()
    write_image(tmp_path / "outside.jpg", 1)
    payload["images"] += [
        {"id": 5, "file_name": "../outside.jpg"},
        {"id": 6, "file_name": str(tmp_path / "outside.jpg")},
        {"id": 7, "file_name": "images/missing.jpg"},
        {"id": 8},
    ]
    payload["annotations"] += [
        {"id": 20, "image_id": 4, "category_id": 99, "bbox": [0, 0, 1, 1]},
        {"id": 21, "image_id": 4, "category_id": 1, "bbox": [0, 0, -1, 1]},
        {"id": 22, "image_id": 4, "category_id": 1, "segmentation": [[1, 2, 3]]},
        {"id": 23, "image_id": 404, "category_id": 1, "bbox": [0, 0, 1, 1]},
    ]
    report = do_import(coco_tree(tmp_path / "coco", payload), "coco")
    assert report.added == 4
    text = "\n".join(f"{i.file}: {i.reason}" for i in report.issues)
    # bad entries are named by their index, never by the file_name the JSON holds
    assert "instances.json image #4: file_name points outside the import folder" in text
    assert "instances.json image #5: file_name points outside the import folder" in text
    assert "instances.json image #6: file_name does not exist in the folder" in text
    assert "outside.jpg" not in text and "missing.jpg" not in text
    assert "image #7: an image entry needs a 'file_name'" in text
    assert "images/d.jpg: annotation 20 skipped: unknown category 99" in text
    assert "annotation 21 skipped: bbox must be" in text
    assert "annotation 22 skipped: a polygon must be" in text
    assert "annotation 23 skipped: it refers to no imported image (image_id 404)" in text
    assert report.skipped == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level must be an object"),
        ('{"images": {}, "categories": []}', "'images' must be a list"),
        ('{"images": [], "categories": [{"id": "x"}]}', "needs an integer 'id'"),
    ],
)
def test_malformed_coco_leaves_the_dataset_unchanged(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any, content: str, message: str
) -> None:
    do_import(class_tree(tmp_path / "first", {"cat": 2}))
    dataset_dir = workspace.project_dir(project.id) / "dataset"
    before = dataset_snapshot(dataset_dir)
    root = coco_tree(tmp_path / "coco", coco_payload())
    (root / "annotations" / "instances.json").write_text(content)
    with pytest.raises(ValidationFailed, match=message):
        do_import(root, "coco")
    assert dataset_snapshot(dataset_dir) == before
    assert not (dataset_dir / ".staging").exists() or not any((dataset_dir / ".staging").iterdir())
    failed = [
        r
        for r in store.list_reports(store.dataset_paths(workspace, project.id))
        if r.status == "failed"
    ]
    assert len(failed) == 1 and message in failed[0].error


def test_coco_annotation_file_is_found_or_named(
    tmp_path: Path, project: Any, do_import: Any
) -> None:
    root = coco_tree(tmp_path / "coco", coco_payload())
    coco_file(root / "annotations" / "other.json", coco_payload())
    with pytest.raises(ValidationFailed, match="Several COCO JSON files"):
        do_import(root, "coco")
    assert do_import(root, "coco", annotations="annotations/other.json").added == 4
    with pytest.raises(ValidationFailed, match="outside the import folder"):
        do_import(root, "coco", annotations="../../etc/passwd")
    assert json.loads((root / "annotations" / "other.json").read_text())["images"]
