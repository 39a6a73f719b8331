"""Experiments written straight into a workspace: digits images, a split, checkpoints.

The experiments feature writes ``experiment.json`` and ``checkpoints/``; these helpers
write the same files (schema ``ExperimentFile``) so export tests need no training app.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.ml.data import Sample
from studio.splits.schemas import SplitFile, SplitRatios, SubsetSizes
from studio.storage.dataset_schemas import DatasetFile, ImportSummary
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus, MetricValue
from studio.storage.jsonio import write_json_atomic
from studio.storage.paths import Workspace
from tests.files import share_file

SPLIT_ID = "split1"


def install_dataset(
    ws: Workspace, project_id: str, samples: Sequence[Sample], dataset: DatasetFile
) -> None:
    """Copy the digits PNGs into the project's dataset and write records, dataset.json, a split."""
    root = ws.project_dir(project_id) / "dataset"
    (root / "images").mkdir(parents=True, exist_ok=True)
    for sample in samples:
        shutil.copyfile(sample.image_path, root / sample.record.path)
        record = sample.record.model_copy(update={"import_id": "imp1"})
        write_json_atomic(root / "meta" / record.id[:2] / f"{record.id}.json", record)
    imports = [ImportSummary(id="imp1", format="folders", source="test", status="committed",
                             added=len(samples), duplicates=0, skipped=0)]  # fmt: skip
    ds = dataset.model_copy(
        update={"project_id": project_id, "image_count": len(samples), "imports": imports}
    )
    write_json_atomic(root / "dataset.json", ds)
    sizes = {s: sum(1 for x in samples if x.subset == s) for s in ("train", "val", "test")}
    split = SplitFile(
        id=SPLIT_ID, project_id=project_id, name="Split 1", task="classification", strategy="label",
        ratios=SplitRatios(), seed=0, image_count=len(samples), sizes=SubsetSizes(**sizes),
        assignments={s.record.id: s.subset for s in samples},  # type: ignore[misc]
    )  # fmt: skip
    write_json_atomic(ws.project_dir(project_id) / "splits" / f"{SPLIT_ID}.json", split)


def add_experiment(
    ws: Workspace,
    project_id: str,
    experiment_id: str,
    *,
    checkpoints: dict[str, Path] | None = None,
    status: ExperimentStatus = ExperimentStatus.completed,
    name: str = "Digits run",
    model: str = "mobilenet_v3_small",
    split_id: str | None = SPLIT_ID,
    task: str = "classification",
) -> ExperimentFile:
    """``experiments/<id>/experiment.json`` plus copies of the given checkpoint files."""
    folder = ws.project_dir(project_id) / "experiments" / experiment_id
    for name_, src in (checkpoints or {}).items():
        (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        share_file(src, folder / "checkpoints" / name_)
    experiment = ExperimentFile(
        id=experiment_id, project_id=project_id, name=name, task=task,
        split_id=split_id, config={"model": model, "image_size": 32}, status=status,
        epochs_done=2 if checkpoints else 0,
        best_checkpoint="checkpoints/best.ckpt" if checkpoints and "best.ckpt" in checkpoints else None,
        last_checkpoint="checkpoints/last.ckpt" if checkpoints and "last.ckpt" in checkpoints else None,
        best_metric=MetricValue(name="val_accuracy", value=0.9, epoch=2) if checkpoints else None,
    )  # fmt: skip
    write_json_atomic(folder / "experiment.json", experiment)
    return experiment


def write_checkpoint(
    path: Path, model_key: str, *, image_size: int = 32, classes: int = 10, seed: int = 0
) -> Path:
    """A Studio checkpoint of a randomly initialised catalog model (no training)."""
    import torch

    from studio.ml.catalog import IMAGENET_MEAN, IMAGENET_STD, get_spec
    from studio.ml.checkpoints import build_metadata
    from studio.ml.tasks.registry import load_task

    torch.manual_seed(seed)
    task = load_task("classification")
    config = task.make_config({"model": model_key, "image_size": image_size})
    model = task.build_model(get_spec(model_key), classes, config)
    names = [str(i) for i in range(classes)]
    state: dict[str, Any] = {"class_ids": list(range(classes)), "class_names": names,
                             "class_counts": [1] * classes, "class_weights": None, "label_smoothing": 0.0}  # fmt: skip
    meta = build_metadata(task=task, config=config, num_outputs=classes, class_names=names,
                          task_state=state, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}, "studio": meta},
        path,
    )
    return path
