"""Regression end to end: project → CSV import (and a CSV with bad rows) → split stratified by
binned target → training through a real worker, then the pages in Chromium.

Data: 100 scikit-learn digits at 16 px; the target is each image's mean grey level
("brightness", 0-255), which a small CNN can learn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.experiments import store as experiment_store
from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.tasks.helpers import (
    FAST,
    brightness,
    create_project,
    create_split,
    digit_pixels,
    import_folder,
    regression_folder,
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
METRICS = {"val_mae", "val_mse", "val_rmse", "val_r2"}


def csv_with_bad_rows(root: Path, used: set[int]) -> Path:
    """One good row, one value that is not a number, one missing value."""
    names = []
    for index, _, pixels in digit_pixels({5: 3}, seed=9, exclude=used):
        names.append(f"{index:04d}.png")
        write_png(root / names[-1], pixels)
    rows = [
        "path,brightness",
        f"{names[0]},{brightness(root / names[0])}",
        f"{names[1]},bright",
        f"{names[2]},",
    ]
    (root / "more.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.timeout(900)
def test_regression_from_csv_to_curves(
    api: Any,
    start_worker: Any,
    warm_server: str,
    logged_in_page: Any,
    tmp_path: Path,
    workspace: Workspace,
) -> None:
    start_worker()
    pid = create_project(api, "Ink", "regression")

    # ---- import: path,brightness
    root = tmp_path / "ink"
    values = regression_folder(root)
    report = import_folder(api, pid, root, "csv", annotations="labels.csv")
    assert report["added"] == 100 and report["issues"] == [], report
    # ---- a second CSV: bad rows are reported per row, the good one is added
    used = {int(p.stem) for p in (root / "images").glob("*.png")}
    bad = import_folder(api, pid, csv_with_bad_rows(tmp_path / "more", used), "csv")
    assert bad["added"] == 1 and bad["skipped"] == 2, bad
    reasons = sorted(f"{i['file']}: {i['reason']}" for i in bad["issues"])
    assert reasons == [  # file and line, never the cell's content
        "more.csv:3: not a number in brightness",
        "more.csv:4: missing value in brightness",
    ]

    summary = api.get(f"/api/datasets/{pid}/").json()
    assert summary["target_names"] == ["brightness"] and summary["classes"] == []
    stats = summary["targets"][0]
    assert stats["count"] == 101 and stats["min"] <= min(values.values())
    assert sum(stats["counts"]) == 101
    page_ = api.get(f"/api/datasets/{pid}/images?sort=-target&page_size=200").json()
    got = [row["target"][0] for row in page_["results"]]
    assert got == sorted(got, reverse=True) and len(got) == 101
    detail = api.get(page_["results"][0]["url"]).json()
    assert detail["annotations"]["target"] == [max(got)]

    # ---- split: stratified by binned brightness
    split = create_split(api, pid)
    assert split["strategy"] == "target_bins"
    table = subset_counts(split)
    assert len(table) >= 5 and all(name.startswith("brightness ") for name in table), table
    assert within_one_of_ratio(table.values()), table

    # ---- training through the worker with the Huber loss: MAE picks the best checkpoint
    exp = train(api, pid, split["id"], {**FAST, "loss": "huber"})
    assert exp["config"]["loss"] == "huber"
    assert exp["best_metric"]["name"] == "val_mae"
    assert set(exp["final_metrics"]) >= METRICS, exp["final_metrics"]
    rows = api.get(f"/api/experiments/{pid}/{exp['id']}/metrics").json()
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(set(r) >= METRICS and r["val_mae"] >= 0 for r in rows), rows
    assert exp["best_metric"]["value"] == min(r["val_mae"] for r in rows)  # lower is better
    folder = experiment_store.experiment_dir(workspace, pid, exp["id"])
    on_disk = json.loads((folder / "metrics.json").read_text())
    assert [r["val_mae"] for r in on_disk] == [r["val_mae"] for r in rows]

    # ---- the pages
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.goto(f"{page.base_url}/projects/{pid}/dataset/?sort=target")
    head = page.get_by_test_id("dataset-counts").inner_text()
    assert "target: brightness" in head and "class" not in head and "label" not in head, head
    assert page.get_by_test_id("class-select").count() == 0
    expect(page.get_by_test_id("target-stats")).to_be_visible()
    assert page.get_by_test_id("target-chart").count() == 1
    lowest = page.get_by_test_id("thumb-target").first.inner_text()
    assert float(lowest) == pytest.approx(min(got), abs=0.05)
    assert "Target: lowest first" in page.get_by_test_id("sort-select").inner_text()
    show_all_images(page)
    screenshot(page, "regression-dataset")
    page.get_by_test_id("theme-toggle").click()  # dark theme: the histogram redraws, readable
    screenshot(page, "regression-dataset-dark")
    page.get_by_test_id("theme-toggle").click()
    page.get_by_test_id("thumb").first.click()
    page.get_by_test_id("viewer-targets").wait_for()
    assert page.get_by_test_id("viewer-targets").inner_text().startswith("brightness = ")
    expect(page.get_by_test_id("viewer-target")).to_be_visible()
    screenshot(page, "regression-viewer")
    page.keyboard.press("Escape")

    page.goto(f"{page.base_url}/projects/{pid}/splits/?split={split['id']}")
    assert page.get_by_test_id("group-header").inner_text() == "Target range"
    screenshot(page, "regression-splits")

    # the server's first Training page imports torch (the task's describe()): be patient
    page.goto(f"{page.base_url}/projects/{pid}/training/?exp={exp['id']}", timeout=180_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=metric-chart]').dataset.points > 0"
    )
    series = (page.get_by_test_id("metric-chart").get_attribute("data-series") or "").split(",")
    # the monitored MAE first and drawn; metrics on other scales start hidden
    assert series[0] == "val_mae" and {s.split(" ")[0] for s in series} == METRICS, series
    assert all(s.endswith("(hidden)") for s in series[1:]), series
    assert "lower is better" in page.get_by_test_id("stat-best-label").inner_text()
    assert "lowest validation MAE" in page.get_by_test_id("metric-note").inner_text()
    screenshot(page, "regression-training-run")
    assert not errors, errors
