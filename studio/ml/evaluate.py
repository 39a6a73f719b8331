"""Evaluation of a trained experiment: one checkpoint over chosen subsets of its split.

Contract:

- Its files (``experiments/<exp_id>/evaluation/``, the lock, the checkpoint list) are read
  and written by :mod:`studio.ml.evaluation_files`.
- :func:`plan_evaluation` checks everything that can be checked before inference (the
  experiment ended and has the checkpoint, its split exists, each chosen subset has
  images, the device exists here) and raises a ``StudioError`` with a sentence otherwise.
- :func:`run_evaluation` loads the checkpoint with ``torch.load(weights_only=True)`` (via
  :func:`studio.ml.checkpoints.load_for_inference`), builds ONE dataloader over the images
  of the chosen subsets and preprocesses them exactly as validation did during training:
  decode squashed to the task's eval cache size, the task's ``eval_transforms``, scale to
  [0, 1], normalise with the checkpoint's mean/std when the task normalises inputs.
  So evaluating ``best.ckpt`` on ``val`` reproduces the training's validation metrics.
- Per-task logic (which records can be scored, the per-image row, the aggregate) sits
  behind ``Task.evaluator()`` (:class:`studio.ml.eval_metrics.TaskEvaluator`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from studio.datasets import store as dataset_store
from studio.errors import Conflict, NotFound, StudioError, ValidationFailed
from studio.ml.eval_metrics import TaskEvaluator
from studio.ml.evaluation_files import (
    CheckpointInfo,
    checkpoint_path,
    evaluation_paths,
    list_checkpoints,
    read_experiment,
)
from studio.splits import store as split_store
from studio.splits.schemas import SUBSETS, SplitFile
from studio.storage.evaluation_schemas import (
    EvaluationAggregate,
    EvaluationConfig,
    EvaluationResults,
    ImageResult,
)
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus
from studio.storage.paths import Workspace

if TYPE_CHECKING:
    from studio.ml.checkpoints import CheckpointMeta
    from studio.ml.data import Sample
    from studio.storage.dataset_schemas import DatasetFile

ProgressFn = Callable[[int, int], None]
_CKPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,150}\.ckpt$")
_RUNNING = (ExperimentStatus.queued, ExperimentStatus.running)


class EvaluationCancelled(StudioError):
    code = "cancelled"


# ----------------------------------------------------------------- planning


def _no_gpu_driver() -> bool:
    """True when no NVIDIA (or WSL GPU) device node exists: CUDA cannot work here."""
    dev = Path("/dev")
    return not (
        any(dev.glob("nvidia[0-9]*"))
        or (dev / "dxg").exists()
        or Path("/proc/driver/nvidia").exists()
    )


@cache
def available_devices() -> tuple[str, ...]:
    """Devices this machine can run inference on.

    Importing torch takes seconds, so a machine without a GPU driver answers without it
    (the web process shows the Evaluation page without ever loading torch).
    """
    if _no_gpu_driver():
        return ("cpu",)
    import torch

    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


def check_device(device: str) -> str:
    if device not in available_devices():
        raise ValidationFailed(
            f"Device {device!r} is not available on this machine",
            code="device_unavailable",
            details={"device": [f"Choose one of: {', '.join(available_devices())}"]},
        )
    return device


def make_config(
    *, checkpoint: str, subsets: Sequence[str], batch_size: object = 64, device: str = "cpu"
) -> EvaluationConfig:
    """A validated :class:`EvaluationConfig`, or ``ValidationFailed`` saying what is wrong."""
    from pydantic import ValidationError

    chosen = [s.strip() for s in subsets if s and s.strip()]
    if not chosen:
        raise ValidationFailed("Choose at least one subset to evaluate on", code="no_subsets",
                               details={"subsets": ["Choose train, val and/or test"]})  # fmt: skip
    unknown = sorted(set(chosen) - set(SUBSETS))
    if unknown:
        raise ValidationFailed(
            f"Unknown subset {unknown[0]!r}: use train, val or test", code="unknown_subset",
            details={"subsets": [f"{u} is not a subset" for u in unknown]},
        )  # fmt: skip
    try:
        return EvaluationConfig.model_validate(
            {"checkpoint": checkpoint, "subsets": [s for s in SUBSETS if s in chosen],
             "batch_size": batch_size, "device": device}
        )  # fmt: skip
    except ValidationError as exc:
        details: dict[str, list[str]] = {}
        for error in exc.errors():
            field = ".".join(str(p) for p in error.get("loc", ())) or "config"
            details.setdefault(field, []).append(str(error.get("msg")))
        field, messages = next(iter(details.items()))
        raise ValidationFailed(f"Invalid {field}: {messages[0]}", details=details) from None


@dataclass(frozen=True)
class EvaluationPlan:
    experiment: ExperimentFile
    split: SplitFile
    checkpoint: Path
    config: EvaluationConfig
    subset_sizes: dict[str, int]  # images of the split per chosen subset


def check_trained(experiment: ExperimentFile, checkpoints: Sequence[CheckpointInfo]) -> None:
    if experiment.status in _RUNNING:
        raise Conflict(
            f"Experiment {experiment.name!r} is still {experiment.status.value}; evaluate it "
            "once its training has ended",
            code="experiment_running",
        )
    if not checkpoints:
        raise Conflict(
            f"Experiment {experiment.name!r} has not been trained yet: it has no checkpoint. "
            "Train it on the Training page first.",
            code="not_trained",
        )


def plan_evaluation(
    ws: Workspace, project_id: str, experiment_id: str, config: EvaluationConfig
) -> EvaluationPlan:
    """Every check that needs no inference; ``StudioError`` with a sentence if one fails."""
    experiment = read_experiment(ws, project_id, experiment_id)
    paths = evaluation_paths(ws, project_id, experiment_id)
    check_trained(experiment, list_checkpoints(paths, experiment))
    checkpoint = checkpoint_path(paths, config.checkpoint)
    subsets = [s for s in SUBSETS if s in config.subsets]  # canonical order, no duplicates
    if not subsets:
        raise ValidationFailed("Choose at least one subset", code="no_subsets",
                               details={"subsets": ["Choose train, val and/or test"]})  # fmt: skip
    if not experiment.split_id:
        raise Conflict(f"Experiment {experiment.name!r} names no split", code="no_split")
    try:
        split = split_store.load(ws, project_id, experiment.split_id)
    except NotFound:
        raise Conflict(
            f"The split {experiment.split_id!r} of this experiment was deleted; the images "
            "to evaluate on are unknown",
            code="split_missing",
        ) from None
    sizes: dict[str, int] = {s: 0 for s in subsets}
    for subset in split.assignments.values():
        if subset in sizes:
            sizes[subset] += 1
    empty = [s for s, n in sizes.items() if n == 0]
    if empty:
        raise ValidationFailed(
            f"The {' and '.join(empty)} subset{'s are' if len(empty) > 1 else ' is'} empty in "
            f"split {split.name!r}; choose another subset",
            code="empty_subset",
            details={"subsets": [f"{s} has no images" for s in empty]},
        )
    check_device(config.device)
    config = config.model_copy(update={"subsets": subsets})
    return EvaluationPlan(experiment, split, checkpoint, config, sizes)


def collect_samples(
    ws: Workspace, plan: EvaluationPlan, evaluator: TaskEvaluator, meta: CheckpointMeta
) -> tuple[list[Sample], DatasetFile, int]:
    """``(samples in subset order then image id, dataset, skipped)`` for ``plan``.

    Skipped: images of the chosen subsets that left the dataset or that the checkpoint
    cannot be scored on (no label, or a class added after training).
    """
    from studio.ml.data import Sample

    project_id = plan.experiment.project_id
    dataset = dataset_store.load_dataset(ws, project_id)
    root = dataset_store.dataset_paths(ws, project_id).root
    wanted = {i: s for i, s in plan.split.assignments.items() if s in plan.config.subsets}
    by_subset: dict[str, list[Sample]] = {s: [] for s in plan.config.subsets}
    for record in dataset_store.iter_records(ws, project_id):
        subset = wanted.get(record.id)
        if subset is None:
            continue
        if evaluator.usable(record, dataset, meta):
            by_subset[subset].append(Sample(root / record.path, record, subset))
    samples = [s for subset in plan.config.subsets for s in by_subset[subset]]
    if not samples:
        raise ValidationFailed(
            "None of the images of the chosen subsets can be scored (they have no label the "
            "model knows)",
            code="empty_subset",
            details={"subsets": plan.config.subsets},
        )
    return samples, dataset, len(wanted) - len(samples)


# ----------------------------------------------------------------- inference


class _EvalImages:
    """Map-style dataset of uint8 images; ``__getitems__`` decodes a batch on threads."""

    def __init__(self, samples: Sequence[Sample], size: int, transform: Any, threads: int) -> None:
        self.samples = list(samples)
        self.size = size
        self.transform = transform
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        import torch

        from studio.ml.data import decode_image

        sample = self.samples[index]
        try:
            array = decode_image(sample.image_path, self.size)
        except Exception as exc:  # PIL raises many types for broken files
            raise StudioError(
                f"Image {sample.record.original_name!r} could not be read: {exc}. Remove it "
                "from the dataset or re-import it.",
                code="bad_image",
                details={"image_id": sample.record.id},
            ) from exc
        image, _ = self.transform(torch.from_numpy(np.array(array)), 0)
        return image

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        return list(self.pool.map(self.__getitem__, indices))


def _is_oom(exc: BaseException) -> bool:
    import torch

    text = str(exc).lower()
    return isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or (
        isinstance(exc, RuntimeError) and "out of memory" in text
    )


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[Any, CheckpointMeta]:
    """``(model in eval mode on device, metadata)``; loaded with ``weights_only=True``."""
    from studio.ml.checkpoints import load_for_inference

    check_device(device)
    try:
        return load_for_inference(path, device=device)
    except StudioError:
        raise
    except Exception as exc:  # e.g. CUDA initialisation errors
        raise StudioError(
            f"Checkpoint {path.name} could not be loaded on {device}: {exc}",
            code="checkpoint_unloadable",
        ) from exc


def run_evaluation(
    model: Any,
    meta: CheckpointMeta,
    samples: Sequence[Sample],
    dataset: DatasetFile,
    *,
    checkpoint_name: str,
    batch_size: int = 64,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    threads: int = 4,
) -> tuple[EvaluationResults, EvaluationAggregate]:
    """Predict every sample with ``model`` (from :func:`load_checkpoint`); ``(results, aggregate)``.

    Runs on the model's device. ``on_progress(done, total)`` after every batch;
    ``should_stop()`` is asked before every batch and ends the run with
    :class:`EvaluationCancelled`. Every failure is a ``StudioError`` with a sentence.
    """
    import torch
    from torch.utils.data import DataLoader

    from studio.ml.hparams import TrainingConfig
    from studio.ml.tasks.registry import load_task

    evaluator = evaluator_for(meta.task)
    task = load_task(meta.task)
    task.load_state(meta.task_state)
    config = TrainingConfig.model_validate({**meta.config, "pretrained": False, "precision": "32"})
    device = next(model.parameters()).device
    size = task.cache_size(config, train=False)
    images = _EvalImages(samples, size, task.eval_transforms(config), threads)
    loader: DataLoader[Any] = DataLoader(cast(Any, images), batch_size=batch_size, shuffle=False, num_workers=0,
                        collate_fn=torch.stack, pin_memory=device.type == "cuda")  # fmt: skip
    mean = torch.tensor(meta.mean or [0.0] * 3, device=device).view(1, -1, 1, 1)
    std = torch.tensor(meta.std or [1.0] * 3, device=device).view(1, -1, 1, 1)
    rows: list[ImageResult] = []
    total = len(samples)
    try:
        with torch.inference_mode():
            for batch in loader:
                if should_stop is not None and should_stop():
                    raise EvaluationCancelled("The evaluation was cancelled")
                # the same float conversion and normalisation as training (studio.ml.module)
                x = batch.to(device, non_blocking=True).float().div_(255.0)
                if task.normalize_inputs:
                    x = x.sub_(mean).div_(std)
                predictions = task.predict(task.forward(model, x))
                for prediction in predictions:
                    sample = samples[len(rows)]
                    base = task.evaluation_record(sample.record, prediction, dataset)
                    rows.append(evaluator.row(sample, base, prediction, meta))
                if on_progress is not None:
                    on_progress(len(rows), total)
    except StudioError:
        raise
    except Exception as exc:
        if _is_oom(exc):
            raise StudioError(
                "Evaluation ran out of memory. Lower the batch size.", code="out_of_memory"
            ) from exc
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StudioError(f"Evaluation failed: {reason}", code="evaluation_failed") from exc
    finally:
        images.pool.shutdown(wait=True, cancel_futures=True)
    rows, aggregate = evaluator.aggregate(rows, meta, checkpoint_name)
    return EvaluationResults(checkpoint=checkpoint_name, results=rows), aggregate


def evaluator_for(task: str) -> TaskEvaluator:
    """The task's evaluator; ``ValidationFailed`` (``task_unsupported``) if it has none."""
    from studio.ml.tasks.registry import load_task

    try:
        return load_task(task).evaluator()  # type: ignore[no-any-return]
    except (ValidationFailed, NotImplementedError):
        raise ValidationFailed(
            f"Evaluation is not available for the {task} task yet", code="task_unsupported"
        ) from None
