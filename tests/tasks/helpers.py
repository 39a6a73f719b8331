"""End-to-end helpers: digits written as import folders, and the API steps of a task's flow.

Every step goes through the public API (``api`` = an authenticated DRF test client) and, for
imports and training, through a real ``rundramatiq`` worker started by the test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# Small and fast on a CPU: 16 px images, ResNet-18 from scratch, 2 epochs.
FAST: dict[str, Any] = {
    "model": "resnet18", "image_size": 16, "batch_size": 16, "epochs": 2, "warmup_epochs": 0,
}  # fmt: skip
RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def digit_pixels(
    per_digit: dict[int, int], seed: int = 0, exclude: Iterable[int] = ()
) -> list[tuple[int, int, np.ndarray]]:
    """``(index, digit, 8x8 uint8)`` of scikit-learn digits: ``per_digit[d]`` of each digit,
    in a seeded random order, never one of the ``exclude`` indexes."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    taken = dict.fromkeys(per_digit, 0)
    skip = set(exclude)
    out = []
    for i in order:
        d = int(digits.target[i])
        if d in taken and taken[d] < per_digit[d] and int(i) not in skip:
            taken[d] += 1
            out.append((int(i), d, (digits.images[i] / 16.0 * 255).astype(np.uint8)))
    return out


def write_png(path: Path, pixels: np.ndarray, size: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode="L").resize((size, size), Image.Resampling.BILINEAR).save(path)
    return path


def anomaly_folders(root: Path, good: int = 48, per_defect: int = 6) -> Path:
    """``root/good/`` (the digit 0) and ``root/defect_<d>/`` for the digits 1-8."""
    counts = {0: good, **dict.fromkeys(range(1, 9), per_defect)}
    for index, digit, pixels in digit_pixels(counts):
        folder = "good" if digit == 0 else f"defect_{digit}"
        write_png(root / folder / f"{index:04d}.png", pixels)
    return root


def brightness(path: Path) -> float:
    """The regression target of the tests: the mean grey level of the image file (0-255)."""
    return round(float(np.asarray(Image.open(path).convert("L"), dtype=np.float64).mean()), 3)


def regression_folder(root: Path, count: int = 100) -> dict[str, float]:
    """``root/images/*.png`` of every digit and ``root/labels.csv`` = ``path,brightness``."""
    per_digit = dict.fromkeys(range(10), count // 10)
    values: dict[str, float] = {}
    for index, _, pixels in digit_pixels(per_digit, seed=1):
        name = f"images/{index:04d}.png"
        values[name] = brightness(write_png(root / name, pixels))
    rows = ["path,brightness", *(f"{name},{value}" for name, value in values.items())]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return values


# ---- API steps ----------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float = 180, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def create_project(api: Any, name: str, task: str) -> str:
    response = api.post("/api/projects/", {"name": name, "task": task}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["task"] == task
    return str(response.json()["id"])


def import_folder(
    api: Any, pid: str, path: Path, fmt: str, annotations: str = "", timeout: float = 180
) -> dict[str, Any]:
    """Import a server folder through the worker; returns the finished import report."""
    body = {"source": "folder", "path": str(path), "format": fmt, "annotations": annotations}
    started = api.post(f"/api/datasets/{pid}/import", body, format="json")
    assert started.status_code == 202, started.content
    job_id, import_id = started.json()["job_id"], started.json()["import_id"]

    def finished() -> str | None:
        status = api.get(f"/api/jobs/{job_id}/").json()["status"]
        return status if status in ("succeeded", "failed", "cancelled", "interrupted") else None

    status = wait_for(finished, timeout, f"import job {job_id}")
    report = api.get(f"/api/datasets/{pid}/imports/{import_id}").json()
    assert status == "succeeded", report
    assert report["status"] == "committed", report
    return dict(report)


def create_split(api: Any, pid: str, seed: int = 0) -> dict[str, Any]:
    response = api.post(
        f"/api/splits/{pid}/", {"ratios": RATIOS, "seed": seed, "name": "Main"}, format="json"
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def train(
    api: Any, pid: str, split_id: str, config: dict[str, Any], timeout: float = 420
) -> dict[str, Any]:
    """Start an experiment, wait for the worker to complete it; returns its detail."""
    created = api.post(
        f"/api/experiments/{pid}/", {"split_id": split_id, "config": config, "start": True},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    eid = created.json()["id"]

    def ended() -> dict[str, Any] | None:
        body = api.get(f"/api/experiments/{pid}/{eid}").json()
        return body if body["status"] in ("completed", "failed", "stopped", "interrupted") else None

    body: dict[str, Any] = wait_for(ended, timeout, f"experiment {eid}")
    assert body["status"] == "completed", body.get("error")
    return body


def subset_counts(split: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    """Group name -> (train, val, test) of a split's stratification table."""
    return {c["name"]: (c["train"], c["val"], c["test"]) for c in split["counts"]}


def within_one_of_ratio(rows: Iterable[tuple[int, int, int]]) -> bool:
    """Every group is split as its ideal 80/10/10 share, each subset within one image."""
    for row in rows:
        n = sum(row)
        if n < 3:
            continue
        ideal = (0.8 * n, 0.1 * n, 0.1 * n)
        if any(abs(got - want) >= 1 + 1e-9 for got, want in zip(row, ideal, strict=True)):
            return False
    return True


def show_all_images(page: Any) -> None:
    """Load the lazy thumbnails before a full-page screenshot (else they are blank there)."""
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; })"
    )
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
