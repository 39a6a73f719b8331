"""Evaluated anomaly-detection and regression projects for the evaluation tests.

Built once per session like :mod:`tests.evaluation.fixtures`, only smaller: ~120 digits at
16 px, a ResNet-18 trained 2 epochs from scratch in-process (a few seconds each), then
evaluated in-process on val + test. What the tests rely on is the shape of the data, not
the model's quality:

- anomaly detection: classes ``good`` (digits 0-6) and ``defect`` (7-9), so ~30 % of the
  images are anomalous; the threshold is chosen on the val images (``threshold_source`` =
  ``"val"``);
- regression: two targets, ``digit`` (the digit's value, 0-9) and ``ink`` (the share of
  bright pixels, in %), imported from a CSV.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from studio.datasets import store as dataset_store
from studio.datasets.dataset_import import ImportRequest, run_import
from studio.ml.data import Sample
from studio.ml.tasks.registry import load_task
from studio.ml.train import run_training
from studio.splits import manager as split_manager
from studio.splits.schemas import SplitRatios
from studio.storage import project_store
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus, MetricValue
from studio.storage.jsonio import write_json_atomic
from studio.storage.paths import Workspace
from tests.evaluation.fixtures import Template, install
from tests.members import alice_owns

ANOMALY_EXPERIMENT = "e1anomaly"
REGRESSION_EXPERIMENT = "e1regress"
LIMIT = 120
SIZE = 16


def _digits(limit: int) -> list[tuple[int, int, np.ndarray]]:
    """``(index, label, 8x8 uint8 pixels)`` of the first ``limit`` digits, seeded order."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(1).permutation(len(digits.target))[:limit]
    return [
        (int(i), int(digits.target[i]), (digits.images[i] / 16.0 * 255).astype(np.uint8))
        for i in order
    ]


def _save(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels, mode="L").resize(
        (SIZE * 2, SIZE * 2), Image.Resampling.BILINEAR
    )
    image.save(path)


def write_anomaly_folders(folder: Path, limit: int = LIMIT) -> Path:
    """``folder/good/*.png`` (digits 0-6) and ``folder/defect/*.png`` (7-9)."""
    for index, label, pixels in _digits(limit):
        kind = "good" if label <= 6 else "defect"
        _save(pixels, folder / kind / f"digit-{index:04d}.png")
    return folder


def write_regression_csv(folder: Path, limit: int = LIMIT) -> Path:
    """``folder/images/*.png`` and ``folder/targets.csv`` (``path,digit,ink``)."""
    lines = ["path,digit,ink"]
    for index, label, pixels in _digits(limit):
        name = f"images/digit-{index:04d}.png"
        _save(pixels, folder / name)
        ink = 100.0 * float((pixels > 127).mean())
        lines.append(f"{name},{label},{ink:.2f}")
    (folder / "targets.csv").write_text("\n".join(lines) + "\n")
    return folder


def _train(
    ws: Workspace, root: Path, task: str, name: str, experiment_id: str, fmt: str, source: Path
) -> Template:
    project = project_store.create(ws, name, task, members=alice_owns())
    request = ImportRequest(
        project_id=project.id, import_id="imdigits", format=fmt, task=task,
        source=f"folder {source}", root=source, workers=1,
    )  # fmt: skip
    run_import(ws, request)
    split = split_manager.create(ws, project, SplitRatios(train=0.6, val=0.2, test=0.2), 0)
    dataset = dataset_store.load_dataset(ws, project.id)
    data_root = dataset_store.dataset_paths(ws, project.id).root
    samples = [
        Sample(data_root / r.path, r, split.assignments[r.id])
        for r in dataset_store.iter_records(ws, project.id)
        if r.id in split.assignments
    ]
    config = load_task(task).make_config(
        {"model": "resnet18", "image_size": SIZE, "batch_size": 16, "epochs": 2,
         "pretrained": False, "warmup_epochs": 0,
         "augment": {"hflip": False, "random_resized_crop": False}},
        cuda=False,
    )  # fmt: skip
    exp_dir = ws.project_dir(project.id) / "experiments" / experiment_id
    result = run_training(
        exp_dir, samples, dataset, config, task,
        lambda kind, data: None, lambda: False, cache_dir=root / "cache",
    )  # fmt: skip
    shutil.rmtree(exp_dir / "cache", ignore_errors=True)
    assert result.best_metric is not None
    experiment = ExperimentFile(
        id=experiment_id, project_id=project.id, name=f"{name} baseline", task=task,
        split_id=split.id, config=config.model_dump(mode="json"),
        status=ExperimentStatus.completed, epochs_done=result.epochs_done,
        best_checkpoint=result.best_checkpoint, last_checkpoint=result.last_checkpoint,
        best_metric=MetricValue(**result.best_metric), final_metrics=result.final_metrics,
    )  # fmt: skip
    write_json_atomic(exp_dir / "experiment.json", experiment)
    return Template(ws.root, project.id, experiment_id, split.id, result.best_metric["value"])


SOURCES = {  # task -> (project name, experiment id, import format, source writer)
    "anomaly_detection": ("Defects", ANOMALY_EXPERIMENT, "class_folders", write_anomaly_folders),
    "regression": ("Digit values", REGRESSION_EXPERIMENT, "csv", write_regression_csv),
}


def build_task_template(root: Path, task: str) -> Template:
    """A trained anomaly-detection or regression digits project in a workspace of its own."""
    ws = Workspace(root / "ws").ensure()
    name, experiment_id, fmt, write = SOURCES[task]
    return _train(ws, root, task, name, experiment_id, fmt, write(root / "source"))


def evaluate_task_template(template: Template, root: Path, subsets: list[str]) -> Template:
    """A copy of ``template`` evaluated with best.ckpt on ``subsets`` (files only, no mirror),
    recorded as the services record a finished run (headline included)."""
    from studio.ml import evaluate as core
    from studio.ml import evaluation_files
    from studio.storage.evaluation_schemas import EvaluationRecord, EvaluationStatus

    ws = Workspace(root / "ws").ensure()
    install(template, ws)
    config = core.make_config(checkpoint="best.ckpt", subsets=subsets, batch_size=64, device="cpu")
    plan = core.plan_evaluation(ws, template.project_id, template.experiment_id, config)
    model, meta = core.load_checkpoint(plan.checkpoint)
    samples, dataset, skipped = core.collect_samples(ws, plan, core.evaluator_for(meta.task), meta)
    results, aggregate = core.run_evaluation(
        model, meta, samples, dataset, checkpoint_name="best.ckpt", batch_size=64
    )
    paths = evaluation_files.evaluation_paths(ws, template.project_id, template.experiment_id)
    evaluation_files.write_outputs(paths, results, aggregate)
    headline, value = aggregate.headline
    record = EvaluationRecord(
        project_id=template.project_id, experiment_id=template.experiment_id, run_id="evtemplate",
        status=EvaluationStatus.completed, config=plan.config, task=meta.task,
        split_id=template.split_id, subsets=plan.subset_sizes, skipped=skipped,
        accuracy=aggregate.overall.accuracy if aggregate.overall else None,
        headline=headline, headline_value=value,
    )  # fmt: skip
    evaluation_files.save_record(paths, record)
    return Template(ws.root, template.project_id, template.experiment_id, template.split_id,
                    template.best_value)  # fmt: skip
