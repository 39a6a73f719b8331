"""Test data for experiments: a classification project whose dataset is scikit-learn digits
(real PNG files in the dataset folder), and a saved split of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from studio.storage.paths import Workspace
from tests.ml.digits import make_digits
from tests.splits.helpers import make_project, write_dataset

# Small and fast on a CPU: 16 px images, ResNet-18, no random crops.
FAST_CONFIG: dict[str, Any] = {
    "model": "resnet18", "image_size": 16, "batch_size": 16, "epochs": 2,
    "warmup_epochs": 0, "augment": {"random_resized_crop": False, "hflip": False},
}  # fmt: skip


def digits_project(ws: Workspace, images: int = 80, name: str = "Digits") -> tuple[str, str]:
    """A project with ``images`` digits and a stratified 80/10/10 split: (project id, split id)."""
    from apps.projects.mirror import mirror_project
    from apps.splits.services import split_create
    from studio.splits.schemas import SplitRatios
    from studio.storage import project_store

    pid = make_project(ws, "classification", name)
    mirror_project(project_store.inspect(ws, pid))
    root = ws.project_dir(pid) / "dataset"
    samples, _ = make_digits(root / "images", limit=images)
    records = list({s.record.id: s.record for s in samples}.values())
    write_dataset(ws, pid, records, class_names=[str(d) for d in range(10)], import_ids=("test",))
    split = split_create(pid, SplitRatios(train=0.8, val=0.1, test=0.1), seed=0, name="Main")
    return pid, split.id


def wait_for(predicate: Callable[[], Any], timeout: float = 120, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
