"""Digits fixture data: scikit-learn's 8x8 digits as upscaled PNG files + ImageRecords."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from studio.ml.data import Sample
from studio.storage.dataset_schemas import Annotations, ClassInfo, DatasetFile, ImageRecord


def make_digits(
    folder: Path, *, size: int = 32, limit: int | None = None, seed: int = 0
) -> tuple[list[Sample], DatasetFile]:
    """Write digits as ``size`` px PNGs into ``folder``; split 80/10/10 with a fixed seed."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images, digits.target
    order = np.random.default_rng(seed).permutation(len(labels))
    if limit is not None:
        order = order[:limit]
    folder.mkdir(parents=True, exist_ok=True)
    n = len(order)
    n_train, n_val = int(0.8 * n), int(0.1 * n)
    samples: list[Sample] = []
    for rank, i in enumerate(order):
        pixels = (images[i] / 16.0 * 255).astype(np.uint8)
        image = Image.fromarray(pixels, mode="L").resize((size, size), Image.Resampling.BILINEAR)
        path = folder / f"digit-{i:04d}.png"
        image.save(path)
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        record = ImageRecord(
            id=sha[:16],
            original_name=path.name,
            path=f"images/{path.name}",
            thumb_path=f"thumbs/{path.name}",
            width=size,
            height=size,
            format="PNG",
            bytes=len(data),
            sha256=sha,
            import_id="test",
            annotations=Annotations(label=int(labels[i])),
        )
        subset = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
        samples.append(Sample(image_path=path, record=record, subset=subset))
    classes = [ClassInfo(id=d, name=str(d), color="#000000") for d in range(10)]
    dataset = DatasetFile(project_id="digits", classes=classes, image_count=n)
    return samples, dataset


def checkpoint_accuracy(
    checkpoint: Path, samples: list[Sample], dataset: DatasetFile, subset: str, cache: Path
) -> float:
    """Accuracy of a classification checkpoint on one subset, preprocessing as at inference."""
    import torch

    from studio.ml.checkpoints import load_for_inference
    from studio.ml.data import StudioDataModule
    from studio.ml.hparams import TrainingConfig
    from studio.ml.tasks.registry import load_task

    model, meta = load_for_inference(checkpoint)
    task = load_task(meta.task)
    config = TrainingConfig.model_validate(meta.config)
    dm = StudioDataModule(task, samples, dataset, config, cache)
    dm.prepare()
    task.load_state(meta.task_state)
    mean = torch.tensor(meta.mean).view(1, 3, 1, 1)
    std = torch.tensor(meta.std).view(1, 3, 1, 1)
    loader = {"val": dm.val_dataloader, "test": dm.test_dataloader}[subset]()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            predictions = task.predict(model((images.float() / 255 - mean) / std))
            ids = [meta.task_state["class_ids"][int(t)] for t in labels]
            correct += sum(int(p["class_id"] == i) for p, i in zip(predictions, ids, strict=True))
            total += len(labels)
    return correct / total
