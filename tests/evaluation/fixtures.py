"""A trained digits experiment for the evaluation tests, built once per session.

The template is a whole project folder (imported dataset, one split, one completed
experiment with ``best.ckpt`` and ``last.ckpt``) in a workspace of its own; each test
copies the project folder into its own workspace (:func:`install`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
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
from tests.files import copy_tree
from tests.members import alice_owns

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
EXPERIMENT_ID = "e1digits"


@dataclass(frozen=True)
class Template:
    root: Path  # workspace root of the template
    project_id: str
    experiment_id: str
    split_id: str
    best_value: float  # val_accuracy of best.ckpt as training measured it


def write_digit_folders(folder: Path, limit: int, size: int = 24) -> Path:
    """``folder/<digit name>/digit-NNNN.png`` for the first ``limit`` digits (seeded order)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))[:limit]
    for i in order:
        pixels = (digits.images[i] / 16.0 * 255).astype(np.uint8)
        image = Image.fromarray(pixels, mode="L").resize((size, size), Image.Resampling.BILINEAR)
        target = folder / NAMES[int(digits.target[i])] / f"digit-{i:04d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
    return folder


def build_template(root: Path, *, limit: int = 150, epochs: int = 2) -> Template:
    """Import ``limit`` digits, split 60/20/20, train a small ResNet-18 (24 px, from scratch).

    ResNet-18 is not the smallest model, but MobileNetV3 trained from scratch for a few
    steps stays at chance level, and the tests want both right and wrong predictions
    (~60 % accuracy). About a minute on two busy cores.
    """
    ws = Workspace(root / "ws").ensure()
    project = project_store.create(ws, "Digits", "classification", members=alice_owns())
    source = write_digit_folders(root / "source", limit)
    request = ImportRequest(
        project_id=project.id, import_id="imdigits", format="class_folders",
        task="classification", source=f"folder {source}", root=source, workers=1,
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
    config = load_task("classification").make_config(
        {"model": "resnet18", "image_size": 24, "batch_size": 8, "epochs": epochs,
         "pretrained": False, "lr": 0.001, "warmup_epochs": 0,
         "augment": {"hflip": False, "random_resized_crop": False}},
        cuda=False,
    )  # fmt: skip
    exp_dir = ws.project_dir(project.id) / "experiments" / EXPERIMENT_ID
    result = run_training(
        exp_dir, samples, dataset, config, "classification",
        lambda kind, data: None, lambda: False, cache_dir=root / "cache",
    )  # fmt: skip
    shutil.rmtree(exp_dir / "cache", ignore_errors=True)
    assert result.best_metric is not None
    experiment = ExperimentFile(
        id=EXPERIMENT_ID, project_id=project.id, name="Digits baseline", task="classification",
        split_id=split.id, config=config.model_dump(mode="json"),
        status=ExperimentStatus.completed, epochs_done=result.epochs_done,
        best_checkpoint=result.best_checkpoint, last_checkpoint=result.last_checkpoint,
        best_metric=MetricValue(**result.best_metric), final_metrics=result.final_metrics,
    )  # fmt: skip
    write_json_atomic(exp_dir / "experiment.json", experiment)
    return Template(ws.root, project.id, EXPERIMENT_ID, split.id, result.best_metric["value"])


def install(template: Template, ws: Workspace) -> None:
    """Copy the template project into ``ws`` (same project, split and experiment ids)."""
    copy_tree(template.root / "projects" / template.project_id, ws.project_dir(template.project_id))


def add_experiment(
    ws: Workspace, template: Template, experiment_id: str, *, status: ExperimentStatus,
    checkpoints: bool = False, name: str = "Another run",
) -> Path:  # fmt: skip
    """A second experiment on the same split, optionally with the template's checkpoints."""
    folder = ws.project_dir(template.project_id) / "experiments" / experiment_id
    folder.mkdir(parents=True)
    if checkpoints:
        source = ws.project_dir(template.project_id) / "experiments" / template.experiment_id
        copy_tree(source / "checkpoints", folder / "checkpoints")
    experiment = ExperimentFile(
        id=experiment_id, project_id=template.project_id, name=name, task="classification",
        split_id=template.split_id, status=status, epochs_done=0,
        best_checkpoint="checkpoints/best.ckpt" if checkpoints else None,
        last_checkpoint="checkpoints/last.ckpt" if checkpoints else None,
    )  # fmt: skip
    write_json_atomic(folder / "experiment.json", experiment)
    return folder


def evaluate_template(template: Template, root: Path, subsets: list[str]) -> Template:
    """A copy of ``template`` whose experiment is already evaluated (files only, no mirror)."""
    from studio.ml import evaluate as core
    from studio.ml import evaluation_files
    from studio.storage.evaluation_schemas import EvaluationRecord, EvaluationStatus

    ws = Workspace(root / "ws").ensure()
    install(template, ws)
    config = core.make_config(checkpoint="best.ckpt", subsets=subsets, batch_size=32, device="cpu")
    plan = core.plan_evaluation(ws, template.project_id, template.experiment_id, config)
    model, meta = core.load_checkpoint(plan.checkpoint)
    samples, dataset, skipped = core.collect_samples(ws, plan, core.evaluator_for(meta.task), meta)
    results, aggregate = core.run_evaluation(
        model, meta, samples, dataset, checkpoint_name="best.ckpt", batch_size=32
    )
    paths = evaluation_files.evaluation_paths(ws, template.project_id, template.experiment_id)
    evaluation_files.write_outputs(paths, results, aggregate)
    record = EvaluationRecord(
        project_id=template.project_id, experiment_id=template.experiment_id, run_id="evtemplate",
        status=EvaluationStatus.completed, config=plan.config, task="classification",
        split_id=template.split_id, subsets=plan.subset_sizes, skipped=skipped,
        accuracy=aggregate.overall.accuracy if aggregate.overall else None,
        headline=aggregate.headline[0], headline_value=aggregate.headline[1],
    )  # fmt: skip
    evaluation_files.save_record(paths, record)
    return Template(ws.root, template.project_id, template.experiment_id, template.split_id,
                    template.best_value)  # fmt: skip
