"""Training overhead: Studio's ``run_training`` against a plain hand-written PyTorch loop.

Both train ResNet-18 from scratch on scikit-learn's digits (1,797 images as 32 px PNGs,
split 80/10/10) for the same epochs and batch size, on the same cached images with the same
augmentations, optimizer (AdamW), warm-up + cosine schedule and per-epoch validation. The
plain loop has no Lightning, no events, no metrics file and no checkpoints, so the ratio is
the price of Studio's machinery (target ≤ 1.10). Runs alternate (plain, Studio, plain,
Studio…) and the fastest of each is compared, since a shared CPU is noisy.

It also times one pass over the training images (no model) from the training cache vs.
decoding the original PNG files, which is what every epoch would cost without the cache.

Environment: ``BENCH_TRAIN_EPOCHS`` (default 4), ``BENCH_TRAIN_REPEATS`` (default 2).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

# Waiting OpenMP threads sleep instead of spinning (effective only before torch is loaded):
# on a shared 2-core machine spinning threads of other processes slow training 5-10x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

EPOCHS = int(os.environ.get("BENCH_TRAIN_EPOCHS", "4").split(",")[0])  # "4,20": training_studio
REPEATS = int(os.environ.get("BENCH_TRAIN_REPEATS", "2"))
MODEL = "resnet18"
IMAGE_SIZE = 32
RESULTS = Path(__file__).resolve().parent / "results" / "training_overhead.json"


def _plain_loop(datamodule: Any, config: Any, num_outputs: int, seed: int) -> tuple[float, float]:
    """The hand-written baseline: (seconds, final validation accuracy)."""
    import torch
    import torch.nn.functional as F

    from studio.ml.catalog import IMAGENET_MEAN, IMAGENET_STD, build_model
    from studio.ml.module import LrSchedule

    torch.manual_seed(seed)
    started = time.perf_counter()
    model = build_model(config.model, num_outputs)
    # fused, like Studio's (studio.ml.module.make_optimizer): the ratio is the price of the
    # machinery, not of an optimizer kernel (the default one is ~5x slower per step on CPU)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )
    train_loader = datamodule.train_dataloader()
    val_loader = datamodule.val_dataloader()
    steps = len(train_loader)
    total = steps * config.epochs
    schedule = LrSchedule(
        "cosine", total, min(round(config.warmup_epochs * steps), total // 2), steps
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    accuracy = 0.0
    for _epoch in range(config.epochs):
        model.train()
        for images, labels in train_loader:
            loss = F.cross_entropy(model((images.float() / 255 - mean) / std), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        correct = seen = 0
        with torch.no_grad():
            for images, labels in val_loader:
                logits = model((images.float() / 255 - mean) / std)
                correct += int((logits.argmax(1) == labels).sum())
                seen += len(labels)
        accuracy = correct / seen
    return time.perf_counter() - started, accuracy


def _studio_run(
    run_dir: Path, samples: Any, dataset: Any, config: Any, cache: Path
) -> tuple[float, float]:
    from studio.ml.train import run_training

    started = time.perf_counter()
    result = run_training(
        run_dir, samples, dataset, config, "classification", lambda _t, _d: None, lambda: False,
        cache_dir=cache,
    )  # fmt: skip
    return time.perf_counter() - started, float(result.final_metrics["val_accuracy"])


def _data_epoch_times(samples: Any, config: Any, datamodule: Any) -> tuple[float, float]:
    """One pass over the training images without a model: (from cache, decoding originals)."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from studio.ml.data import CachedImageDataset, decode_image

    started = time.perf_counter()
    for _batch in datamodule.train_dataloader():
        pass
    cached = time.perf_counter() - started

    train = [s for s in samples if s.subset == "train"]
    size = datamodule.task.cache_size(config, train=True)
    transform = datamodule.task.train_transforms(config)

    class DecodeEveryEpoch(CachedImageDataset):
        def __getitem__(self, index: int) -> tuple[Any, Any]:
            image = torch.from_numpy(
                np.ascontiguousarray(decode_image(train[index].image_path, size))
            )
            out = self.transform(image, self.targets[index])
            return out[0], out[1]

    ds = DecodeEveryEpoch(None, [s.record.annotations.label for s in train], transform)
    loader = DataLoader(ds, batch_size=config.batch_size, shuffle=True, drop_last=True)
    started = time.perf_counter()
    for _batch in loader:
        pass
    return cached, time.perf_counter() - started


def main() -> dict[str, Any]:
    from studio.ml.data import StudioDataModule
    from studio.ml.tasks.registry import load_task
    from tests.ml.digits import make_digits

    root = Path(tempfile.mkdtemp(prefix="studio-bench-train-"))
    samples, dataset = make_digits(root / "images", size=IMAGE_SIZE)
    task = load_task("classification")
    config = task.make_config({"model": MODEL, "image_size": IMAGE_SIZE, "epochs": EPOCHS})
    cache = root / "cache"
    datamodule = StudioDataModule(task, samples, dataset, config, cache)
    started = time.perf_counter()
    datamodule.prepare()  # both loops read this cache; building it is timed on its own
    cache_build_s = time.perf_counter() - started

    plain_times, studio_times = [], []
    plain_acc = studio_acc = 0.0
    for rep in range(REPEATS):
        seconds, plain_acc = _plain_loop(datamodule, config, task.num_outputs(dataset), config.seed)
        plain_times.append(seconds)
        seconds, studio_acc = _studio_run(root / f"run{rep}", samples, dataset, config, cache)
        studio_times.append(seconds)
    ratio = min(studio_times) / min(plain_times)
    cached_s, decode_s = _data_epoch_times(samples, config, datamodule)

    result = {
        "model": MODEL,
        "image_size": IMAGE_SIZE,
        "epochs": EPOCHS,
        "batch_size": config.batch_size,
        "train_images": datamodule.counts()["train"],
        "plain_s": [round(t, 2) for t in plain_times],
        "studio_s": [round(t, 2) for t in studio_times],
        "ratio": round(ratio, 3),
        "target_ratio": 1.10,
        "ok": ratio <= 1.10,
        "plain_val_accuracy": round(plain_acc, 4),
        "studio_val_accuracy": round(studio_acc, 4),
        "studio_epoch_s": round(min(studio_times) / EPOCHS, 2),
        "cache_build_s": round(cache_build_s, 2),
        "data_epoch_from_cache_s": round(cached_s, 3),
        "data_epoch_decoding_files_s": round(decode_s, 3),
        "cpu_threads": __import__("torch").get_num_threads(),
    }
    print(
        f"   plain loop {min(plain_times):.1f} s, run_training {min(studio_times):.1f} s "
        f"for {EPOCHS} epochs: ratio {ratio:.3f} (target <= 1.10)"
    )
    print(
        f"   data epoch: {cached_s:.2f} s from the training cache vs {decode_s:.2f} s "
        f"decoding the {result['train_images']} original files"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
