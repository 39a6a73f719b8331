"""Anomaly detection end to end: project → import → split → training through a real worker,
then the Dataset, Splits and Training pages in Chromium.

Data: scikit-learn digits at 16 px; the digit 0 is ``good/``, the digits 1-8 are defect
folders (``defect_<d>/``), plus a small CSV whose 0/1 column becomes good/anomalous.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from apps.experiments import store as experiment_store
from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.tasks.helpers import (
    FAST,
    anomaly_folders,
    create_project,
    create_split,
    digit_pixels,
    import_folder,
    show_all_images,
    subset_counts,
    train,
    within_one_of_ratio,
    write_png,
)

pytestmark = [
    pytest.mark.worker,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]
METRICS = {"val_auroc", "val_average_precision", "val_f1"}


def csv_of_zeros_and_nines(root: Path, used: set[int]) -> Path:
    """``file,is_defect`` (no label-named column: the only other column is the label)."""
    rows = ["file,is_defect"]
    for index, digit, pixels in digit_pixels({0: 3, 9: 3}, seed=7, exclude=used):
        write_png(root / "img" / f"{index:04d}.png", pixels)
        rows.append(f"img/{index:04d}.png,{0 if digit == 0 else 1}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.timeout(900)
def test_anomaly_detection_from_folders_to_curves(
    api: Any,
    start_worker: Any,
    warm_server: str,
    logged_in_page: Any,
    tmp_path: Path,
    workspace: Workspace,
) -> None:
    start_worker()
    pid = create_project(api, "Parts", "anomaly_detection")

    # ---- import: good/ + one folder per kind of defect
    parts = anomaly_folders(tmp_path / "parts")
    report = import_folder(api, pid, parts, "class_folders")
    assert report["added"] == 96 and report["skipped"] == 0, report
    # ---- a CSV whose 0/1 column is the label: 0 joins "good", 1 becomes "anomalous"
    used = {int(p.stem) for p in parts.rglob("*.png")}
    extra = import_folder(api, pid, csv_of_zeros_and_nines(tmp_path / "extra", used), "csv")
    assert extra["added"] == 6 and extra["skipped"] == 0, extra
    assert any("good, anomalous" in i["reason"] for i in extra["issues"]), extra["issues"]
    summary = api.get(f"/api/datasets/{pid}/").json()
    counts = {c["name"]: c["count"] for c in summary["classes"]}
    assert set(counts) == {"good", "anomalous", *(f"defect_{d}" for d in range(1, 9))}
    assert counts["good"] == 48 + 3 and counts["anomalous"] == 3

    # ---- split: stratified by label, every class near 80/10/10
    split = create_split(api, pid)
    assert split["strategy"] == "label"
    table = subset_counts(split)
    assert table["good"][1] >= 4 and within_one_of_ratio(table.values()), table

    # ---- training through the worker: AUROC is tracked and picks the best checkpoint
    exp = train(api, pid, split["id"], FAST)
    assert exp["best_metric"]["name"] == "val_auroc"
    assert set(exp["final_metrics"]) >= METRICS, exp["final_metrics"]
    assert exp["config"]["augment"]["hflip"] is False  # the task's lighter augmentations
    assert exp["config"]["augment"]["random_resized_crop"] is False
    rows = api.get(f"/api/experiments/{pid}/{exp['id']}/metrics").json()
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(set(r) >= METRICS and 0 <= r["val_auroc"] <= 1 for r in rows), rows
    folder = experiment_store.experiment_dir(workspace, pid, exp["id"])
    on_disk = json.loads((folder / "metrics.json").read_text())
    assert [r["val_auroc"] for r in on_disk] == [r["val_auroc"] for r in rows]

    # ---- the pages
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.goto(f"{page.base_url}/projects/{pid}/dataset/")
    roles = {
        item.locator(".name").inner_text(): item.get_by_test_id("class-role").text_content()
        for item in page.locator(".class-item:has([data-testid=class-role])").all()
    }
    assert roles["good"] == "normal" and roles["anomalous"] == "defect"
    assert roles["defect_3"] == "defect"
    head = page.get_by_test_id("dataset-counts").inner_text()
    assert "normal" in head and "defect" in head and "without a label" not in head
    assert page.get_by_test_id("no-normal-class").count() == 0
    show_all_images(page)
    screenshot(page, "anomaly-dataset")

    page.goto(f"{page.base_url}/projects/{pid}/splits/?split={split['id']}")
    assert page.get_by_test_id("group-header").inner_text() == "Class"
    screenshot(page, "anomaly-splits")

    # the server's first Training page imports torch (the task's describe()): be patient
    page.goto(f"{page.base_url}/projects/{pid}/training/?exp={exp['id']}", timeout=180_000)
    chart = page.get_by_test_id("metric-chart")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=metric-chart]').dataset.points > 0"
    )
    series = (chart.get_attribute("data-series") or "").split(",")
    assert series[0] == "val_auroc" and set(series) == METRICS, series  # all on the 0..1 scale
    assert "higher is better" in page.get_by_test_id("stat-best-label").inner_text()
    assert "highest validation AUROC" in page.get_by_test_id("metric-note").inner_text()
    screenshot(page, "anomaly-training-run")
    assert not errors, errors
