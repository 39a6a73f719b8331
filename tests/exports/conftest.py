"""Fixtures of the export tests: digits on disk and one trained model per session.

The model (ResNet-18 at 16 px on digits, 4 epochs, no augmentation: the smallest setup that
learns well above chance in a few dozen steps; MobileNetV3-Small's BatchNorm momentum of
0.01 leaves it at chance that early) is trained once with ``run_training`` into a
session folder; each test copies its checkpoints into its own workspace as a completed
experiment over a split of the same digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.ml.data import Sample
from studio.storage.dataset_schemas import DatasetFile
from studio.storage.paths import Workspace
from tests.exports.helpers import add_experiment, install_dataset, write_checkpoint
from tests.members import alice_owns
from tests.ml.digits import make_digits

Digits = tuple[list[Sample], DatasetFile]


@pytest.fixture(scope="session")
def digits_files(tmp_path_factory: pytest.TempPathFactory) -> Digits:
    """300 digits as 32 px PNGs (240 train / 30 val / 30 test)."""
    return make_digits(tmp_path_factory.mktemp("export-digits") / "images", limit=300)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, digits_files: Digits) -> Path:
    """A run folder with ``checkpoints/best.ckpt`` and ``last.ckpt`` of a trained model."""
    import torch

    from studio.ml.tasks.registry import load_task
    from studio.ml.train import run_training

    samples, dataset = digits_files
    run_dir = tmp_path_factory.mktemp("export-trained")
    config = load_task("classification").make_config({
        "model": "resnet18", "image_size": 16, "batch_size": 16, "epochs": 4,
        "augment": {"hflip": False, "random_resized_crop": False},
    })  # fmt: skip
    threads = torch.get_num_threads()
    # one thread: on a busy shared CPU, spinning OpenMP threads make each step several
    # times slower than a single thread does
    torch.set_num_threads(1)
    try:
        run_training(run_dir, samples, dataset, config, "classification",
                     lambda kind, data: None, lambda: False, cache_dir=run_dir / "cache")  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return run_dir


@pytest.fixture(scope="session")
def random_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``model key -> checkpoint`` of randomly initialised catalog models (made on demand)."""
    folder = tmp_path_factory.mktemp("export-random")
    made: dict[str, Path] = {}

    def get(key: str) -> Path:
        if key not in made:
            made[key] = write_checkpoint(folder / f"{key}.ckpt", key)
        return made[key]

    return get


@pytest.fixture
def project_id(workspace: Workspace, digits_files: Digits) -> str:
    """A classification project holding the digits and split ``split1`` (no database)."""
    from studio.storage import project_store

    pid = project_store.create(workspace, "Digits", "classification", members=alice_owns()).id
    install_dataset(workspace, pid, *digits_files)
    return pid


@pytest.fixture
def trained(workspace: Workspace, project_id: str, trained_run: Path) -> tuple[str, str]:
    """``(project_id, experiment_id)`` of a completed experiment with trained checkpoints."""
    cks = {n: trained_run / "checkpoints" / n for n in ("best.ckpt", "last.ckpt")}
    add_experiment(workspace, project_id, "exp1", checkpoints=cks, model="resnet18")
    return project_id, "exp1"


@pytest.fixture
def db_project(db: Any, project_id: str) -> str:
    """``project_id`` with its mirror row (for the API and pages)."""
    from apps.projects.selectors import project_get

    project_get(project_id)
    return project_id


@pytest.fixture
def db_trained(db_project: str, trained: tuple[str, str]) -> tuple[str, str]:
    return trained
