"""What an import reads for each task (``studio.datasets.conventions``): 0/1 labels of anomaly
detection, the two-column CSV rule, numeric targets of regression with per-row problems, and
what the mirror, the API and the Dataset page then show for those tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.datasets import store
from studio.datasets.conventions import RULES, binary_renames, rules_for
from studio.storage.paths import Workspace
from tests.datasets.helpers import class_tree, write_image

pytestmark = pytest.mark.django_db


def records(ws: Workspace, project_id: str) -> dict[str, Any]:
    return {r.original_name: r for r in store.iter_records(ws, project_id)}


def class_names(ws: Workspace, project_id: str) -> dict[int, str]:
    return {c.id: c.name for c in store.load_dataset(ws, project_id).classes}


def csv_folder(root: Path, text: str, count: int = 4, seed: int = 40) -> Path:
    for i in range(count):
        write_image(root / f"{i}.jpg", seed + i)
    (root / "labels.csv").write_text(text)
    return root


# ---- the rules ----------------------------------------------------------------------


def test_binary_renames_only_apply_to_binary_label_sets() -> None:
    anomaly = rules_for("anomaly_detection")
    assert binary_renames(["0", "1"], anomaly) == ["good", "anomalous"]
    assert binary_renames(["0.0", "TRUE", "false"], anomaly) == ["good", "anomalous", "good"]
    assert binary_renames(["1"], anomaly) == ["anomalous"]
    assert binary_renames(["0", "1", "2"], anomaly) is None  # then "0" is the normal class
    assert binary_renames(["good", "scratch"], anomaly) is None
    assert binary_renames(["0", "1"], rules_for("classification")) is None
    assert rules_for("no_such_task") == rules_for("classification")


def test_normal_names_match_the_ones_training_uses() -> None:
    from studio.ml.tasks.anomaly import NORMAL_NAMES, is_normal

    rules = RULES["anomaly_detection"]
    assert rules.normal_names == NORMAL_NAMES
    for name in ("good", " OK ", "scratch", "anomalous", "0", "1"):
        assert (rules.class_role(name) == "normal") == is_normal(name), name
    assert rules_for("classification").class_role("good") == ""


def test_every_task_of_the_registry_has_import_rules() -> None:
    from studio.ml.tasks.registry import TASKS

    assert {t.value for t in TASKS} == set(RULES)


# ---- anomaly detection ------------------------------------------------------------------


def test_anomaly_csv_with_0_and_1_becomes_good_and_anomalous(
    tmp_path: Path, workspace: Workspace, anomaly_project: Any, do_import: Any
) -> None:
    root = csv_folder(tmp_path / "csv", "path,label\n0.jpg,1\n1.jpg,0\n2.jpg,0\n3.jpg,1\n")
    report = do_import(root, "csv", project_id=anomaly_project.id)
    assert report.added == 4 and report.skipped == 0
    (note,) = report.issues
    assert (
        note.severity == "warning"
        and "0, 1 were read as the classes good, anomalous" in note.reason
    )
    names = class_names(workspace, anomaly_project.id)
    assert names == {0: "good", 1: "anomalous"}  # the normal class first
    got = records(workspace, anomaly_project.id)
    assert [names[got[f"{i}.jpg"].annotations.label] for i in range(4)] == [
        "anomalous", "good", "good", "anomalous",
    ]  # fmt: skip


def test_anomaly_csv_labels_join_the_classes_of_earlier_folders(
    tmp_path: Path, workspace: Workspace, anomaly_project: Any, do_import: Any
) -> None:
    do_import(
        class_tree(tmp_path / "parts", {"good": 2, "scratch": 2}), project_id=anomaly_project.id
    )
    # no header, true/false spelling, two columns: path,label
    root = csv_folder(tmp_path / "csv", "0.jpg,false\n1.jpg,TRUE\n", count=2)
    do_import(root, "csv", project_id=anomaly_project.id)
    names = class_names(workspace, anomaly_project.id)
    assert sorted(names.values()) == ["anomalous", "good", "scratch"]
    got = records(workspace, anomaly_project.id)
    assert names[got["0.jpg"].annotations.label] == "good"
    assert names[got["1.jpg"].annotations.label] == "anomalous"


def test_anomaly_class_folders_and_named_labels_keep_their_names(
    tmp_path: Path, workspace: Workspace, anomaly_project: Any, do_import: Any
) -> None:
    report = do_import(
        class_tree(tmp_path / "parts", {"good": 2, "dent": 1}), project_id=anomaly_project.id
    )
    assert report.added == 3 and report.issues == []
    assert sorted(class_names(workspace, anomaly_project.id).values()) == ["dent", "good"]
    root = csv_folder(tmp_path / "csv", "path,label\n0.jpg,0\n1.jpg,1\n2.jpg,2\n", count=3)
    report = do_import(root, "csv", project_id=anomaly_project.id)
    assert report.issues == []  # 0/1/2 is not a binary column: the names stay
    assert {"0", "1", "2"} <= set(class_names(workspace, anomaly_project.id).values())


@pytest.mark.parametrize("header", ["file,is_defect", "image;defective"])
def test_header_with_one_other_column_is_the_label(
    tmp_path: Path, workspace: Workspace, anomaly_project: Any, do_import: Any, header: str
) -> None:
    sep = ";" if ";" in header else ","
    root = csv_folder(tmp_path / "csv", f"{header}\n0.jpg{sep}0\n1.jpg{sep}1\n", count=2)
    report = do_import(root, "csv", project_id=anomaly_project.id)
    assert report.added == 2
    assert store.load_dataset(workspace, anomaly_project.id).target_names == []
    assert sorted(class_names(workspace, anomaly_project.id).values()) == ["anomalous", "good"]


def test_classification_header_with_one_other_column_is_the_label(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    root = csv_folder(tmp_path / "csv", "file,species\n0.jpg,cat\n1.jpg,dog\n2.jpg,7\n", count=3)
    report = do_import(root, "csv")
    assert report.added == 3 and report.issues == []
    assert sorted(class_names(workspace, project.id).values()) == ["7", "cat", "dog"]
    # wider tables without a label column are still numbers, imported without labels
    root = csv_folder(tmp_path / "wide", "file,a,b\n0.jpg,1,2\n", count=1, seed=90)
    report = do_import(root, "csv")
    (warning,) = report.issues
    assert warning.severity == "warning" and "has a class label" in warning.reason


# ---- regression -------------------------------------------------------------------


def test_regression_reads_every_column_as_a_target(
    tmp_path: Path, workspace: Workspace, regression_project: Any, do_import: Any
) -> None:
    root = csv_folder(tmp_path / "csv", "path,label\n0.jpg,1.5\n1.jpg,-2\n", count=2)
    report = do_import(root, "csv", project_id=regression_project.id)
    assert report.added == 2 and report.issues == []
    dataset = store.load_dataset(workspace, regression_project.id)
    assert dataset.target_names == ["label"] and dataset.classes == []
    assert records(workspace, regression_project.id)["1.jpg"].annotations.target == [-2.0]


def test_regression_reports_missing_and_non_numeric_values_per_row(
    tmp_path: Path, workspace: Workspace, regression_project: Any, do_import: Any
) -> None:
    text = "path,age,weight\n0.jpg,3,1\n1.jpg,,2\n2.jpg,four,\n3.jpg,inf,7\n"
    report = do_import(csv_folder(tmp_path / "csv", text), "csv", project_id=regression_project.id)
    assert report.added == 1 and report.skipped == 3
    why = {i.file: i.reason for i in report.issues}
    # the CSV is imported (a good row), so its columns are named; the cells are never quoted
    assert why["labels.csv:3"] == "missing value in age"
    assert why["labels.csv:4"] == "not a number in age; missing value in weight"
    assert why["labels.csv:5"] == "not a number in age"


def test_class_folders_into_regression_warn_that_nothing_can_train(
    tmp_path: Path, regression_project: Any, do_import: Any
) -> None:
    report = do_import(class_tree(tmp_path / "pets", {"cat": 2}), project_id=regression_project.id)
    assert report.added == 2
    (warning,) = report.issues
    assert warning.severity == "warning" and "numeric targets" in warning.reason


def test_targets_in_the_mirror_the_summary_and_the_list(
    api: Any, tmp_path: Path, regression_project: Any, do_import: Any
) -> None:
    from apps.datasets.mirror import target_summary

    text = "path,age\n0.jpg,30\n1.jpg,10\n2.jpg,20\n3.jpg,40\n"
    do_import(csv_folder(tmp_path / "csv", text), "csv", project_id=regression_project.id)
    pid = regression_project.id
    (stats,) = api.get(f"/api/datasets/{pid}/").json()["targets"]
    assert (stats["name"], stats["count"], stats["min"], stats["max"], stats["mean"]) == (
        "age", 4, 10.0, 40.0, 25.0,
    )  # fmt: skip
    assert sum(stats["counts"]) == 4 and stats["edges"][0] == 10 and stats["edges"][-1] == 40
    rows = api.get(f"/api/datasets/{pid}/images", {"sort": "target"}).json()["results"]
    assert [r["target"] for r in rows] == [[10.0], [20.0], [30.0], [40.0]]
    rows = api.get(f"/api/datasets/{pid}/images", {"sort": "-target"}).json()["results"]
    assert [r["target"][0] for r in rows] == [40.0, 30.0, 20.0, 10.0]
    # one value, no spread: a single bin; rows without a (complete) target are left out
    assert target_summary(["x"], [[2.0], [2.0], None, []])[0]["counts"] == [2]
    assert target_summary(["x", "y"], [[1.0]])[0]["count"] == 0


# ---- the Dataset page -------------------------------------------------------------------


def test_dataset_page_of_a_regression_project(
    client: Any, user: Any, tmp_path: Path, regression_project: Any, do_import: Any
) -> None:
    text = "path,age\n0.jpg,30.25\n1.jpg,10\n"
    do_import(csv_folder(tmp_path / "csv", text, count=3), "csv", project_id=regression_project.id)
    do_import(class_tree(tmp_path / "pets", {"cat": 1}), project_id=regression_project.id)
    client.force_login(user)
    html = client.get(f"/projects/{regression_project.id}/dataset/").content.decode()
    assert 'data-testid="target-stats"' in html and 'data-testid="target-chart"' in html
    assert 'data-testid="thumb-target">30.25<' in html
    assert "1 image has no target value" in html  # the cat
    assert "Target: lowest first" in html
    assert 'data-default-format="csv"' in html


def test_dataset_page_of_an_anomaly_project(
    client: Any, user: Any, tmp_path: Path, anomaly_project: Any, do_import: Any
) -> None:
    client.force_login(user)
    url = f"/projects/{anomaly_project.id}/dataset/"
    assert 'data-testid="format-hints"' in client.get(url).content.decode()  # empty: formats
    do_import(class_tree(tmp_path / "defects", {"scratch": 2}), project_id=anomaly_project.id)
    html = client.get(url).content.decode()
    assert 'data-testid="no-normal-class"' in html  # no good/ yet: said so
    do_import(class_tree(tmp_path / "ok", {"good": 3}, 50), project_id=anomaly_project.id)
    html = client.get(url).content.decode()
    assert 'data-testid="no-normal-class"' not in html
    assert "3 normal · 2 defect" in " ".join(html.split())
    assert 'role-normal" data-testid="class-role">normal<' in html
    assert (
        'data-testid="target-chart"' not in html and 'data-default-format="class_folders"' in html
    )
