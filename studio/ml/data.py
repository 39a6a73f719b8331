"""Training data: the training-resolution cache, the Dataset and the LightningDataModule.

Contract:

- Input is a list of :class:`Sample` (image file, its ``ImageRecord``, its subset) plus the
  ``DatasetFile``. The ML core never scans the workspace; the caller resolves paths.
- **Training-resolution cache.** Each subset's images are decoded ONCE, squashed to a square
  of ``task.cache_size(...)`` pixels and stored as one ``uint8`` array ``(N, 3, S, S)`` in a
  ``.npy`` file under the caller's cache folder. The file name is keyed by the ordered image
  ids and the size, so a rerun (or another experiment over the same split) memory-maps the
  existing file and never opens an original image again. Files appear by atomic rename, so
  a half-written cache is never used.
- A corrupt image fails the cache build with a ``StudioError`` naming the file.
- Squashing (not cropping) keeps the whole image, which every task's annotations refer to;
  inference must preprocess the same way (resize to ``image_size`` square).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from studio.errors import StudioError, ValidationFailed

if TYPE_CHECKING:
    from studio.ml.hparams import TrainingConfig
    from studio.ml.tasks.base import Task
    from studio.storage.dataset_schemas import DatasetFile, ImageRecord

SUBSETS = ("train", "val", "test")
CACHE_FORMAT = 1  # bump when the decoding recipe changes: old cache files stop matching
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class Sample:
    """One image of a split: where its bytes are, what it is, and which subset it is in."""

    image_path: Path
    record: ImageRecord
    subset: str  # "train" | "val" | "test"


def cache_path(cache_dir: Path, ids: Sequence[str], size: int) -> Path:
    """The cache file for images ``ids`` (in this order) at ``size`` px."""
    digest = hashlib.sha256(f"v{CACHE_FORMAT}|{size}|".encode() + "\n".join(ids).encode())
    return Path(cache_dir) / f"images-{size}px-{len(ids)}-{digest.hexdigest()[:20]}.npy"


def decode_image(path: Path, size: int) -> np.ndarray:
    """Decode ``path`` to a ``(3, size, size)`` uint8 RGB array (squashed, antialiased).

    JPEGs are decoded at a reduced scale (``draft``) when they are much larger than
    ``size``: a 4000 px photo for a 256 px cache then decodes ~8x faster.
    """
    with Image.open(path) as im:
        im.draft(None, (size, size))
        rgb = im.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


def _check_cache(path: Path, n: int, size: int) -> bool:
    try:
        arr = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return arr.shape == (n, 3, size, size) and arr.dtype == np.uint8


def build_image_cache(
    samples: Sequence[Sample],
    size: int,
    cache_dir: Path,
    *,
    on_progress: ProgressFn | None = None,
    workers: int | None = None,
) -> Path:
    """The cache file of ``samples`` at ``size`` px, decoding only when it does not exist yet.

    Decoding runs on a few threads (Pillow releases the GIL while decoding and resizing).
    ``on_progress(done, total)`` is called as images are written.
    """
    cache_dir = Path(cache_dir)
    target = cache_path(cache_dir, [s.record.id for s in samples], size)
    n = len(samples)
    if target.is_file() and _check_cache(target, n, size):
        if on_progress:
            on_progress(n, n)
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp.npy", dir=cache_dir)
    os.close(fd)
    tmp = Path(tmp_name)

    def decode(i: int) -> np.ndarray:
        sample = samples[i]
        try:
            return decode_image(sample.image_path, size)
        except Exception as exc:  # PIL raises many types for broken files
            raise StudioError(
                f"Image {sample.record.original_name!r} ({sample.image_path.name}) could not "
                f"be read: {exc}. Remove it from the dataset or re-import it.",
                code="bad_image",
                details={"image_id": sample.record.id, "file": str(sample.image_path)},
            ) from exc

    try:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, 3, size, size))
        threads = workers or min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            try:
                for i, image in enumerate(pool.map(decode, range(n))):
                    arr[i] = image
                    if on_progress:
                        on_progress(i + 1, n)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        arr.flush()
        del arr
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return target


class CachedImageDataset(Dataset[tuple[Any, Any]]):
    """``(image, target)`` pairs read from a cache file, then passed through ``transform``.

    The memory map is opened lazily in each process (a pickled memmap would copy the data
    into every DataLoader worker).
    """

    def __init__(self, path: Path | None, targets: Sequence[Any], transform: Callable[..., Any]):
        self.path = path
        self.targets = list(targets)
        self.transform = transform
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            assert self.path is not None
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        # np.array copies out of the read-only map: torch wants writable memory
        image = torch.from_numpy(np.array(self.array[index]))
        out = self.transform(image, self.targets[index])
        return out[0], out[1]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_array"] = None
        return state


class StudioDataModule(pl.LightningDataModule):
    """Train/val/test dataloaders over cached images for one task and config.

    :meth:`prepare` (also called by ``setup``) filters unusable records, computes the task's
    fit state from the training records, builds or reuses the caches and creates the
    datasets. It is idempotent and cheap the second time.
    """

    def __init__(
        self,
        task: Task,
        samples: Sequence[Sample],
        dataset: DatasetFile,
        config: TrainingConfig,
        cache_dir: Path,
        *,
        on_progress: ProgressFn | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.task = task
        self.samples = list(samples)
        self.dataset_file = dataset
        self.config = config
        self.cache_dir = Path(cache_dir)
        self.on_progress = on_progress
        self.pin_memory = pin_memory
        self.task_state: dict[str, Any] = {}
        self.skipped = 0
        self.datasets: dict[str, CachedImageDataset] = {}

    def _split(self) -> dict[str, list[Sample]]:
        by_subset: dict[str, list[Sample]] = {name: [] for name in SUBSETS}
        for sample in self.samples:
            if sample.subset not in by_subset:
                raise ValidationFailed(
                    f"Unknown subset {sample.subset!r} for image {sample.record.original_name!r}",
                    details={"subset": [f"Use one of: {', '.join(SUBSETS)}"]},
                )
            if self.task.usable(sample.record, self.dataset_file):
                by_subset[sample.subset].append(sample)
            else:
                self.skipped += 1
        for name in ("train", "val"):
            if not by_subset[name]:
                raise ValidationFailed(
                    f"The split has no usable {name} images for {self.task.label.lower()}",
                    details={"split": [f"Put annotated images into the {name} subset"]},
                )
        if len(by_subset["train"]) < 2:
            raise ValidationFailed(
                "Training needs at least two training images",
                details={"split": ["Put more annotated images into the train subset"]},
            )
        return by_subset

    def prepare(self) -> None:
        if self.datasets:
            return
        self.skipped = 0
        by_subset = self._split()
        ds = self.dataset_file
        self.task_state = self.task.fit_state(
            [s.record for s in by_subset["train"]], ds, self.config
        )
        self.task.load_state(self.task_state)
        total = sum(len(v) for v in by_subset.values())
        offset = 0
        for name in SUBSETS:
            items = by_subset[name]
            train = name == "train"
            size = self.task.cache_size(self.config, train=train)
            transform = (
                self.task.train_transforms(self.config)
                if train
                else self.task.eval_transforms(self.config)
            )
            targets = [
                self.task.scale_target(
                    self.task.target_from_record(s.record, ds),
                    size / max(s.record.width, 1),
                    size / max(s.record.height, 1),
                )
                for s in items
            ]
            path = None
            if items:
                done_before = offset

                def progress(done: int, _n: int, base: int = done_before) -> None:
                    if self.on_progress:
                        self.on_progress(base + done, total)

                path = build_image_cache(items, size, self.cache_dir, on_progress=progress)
            offset += len(items)
            self.datasets[name] = CachedImageDataset(path, targets, transform)

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def counts(self) -> dict[str, int]:
        return {name: len(ds) for name, ds in self.datasets.items()}

    def _loader(self, name: str, *, train: bool) -> DataLoader[Any]:
        ds = self.datasets[name]
        workers = self.config.num_workers
        bs = self.config.batch_size
        return DataLoader(
            ds,
            batch_size=bs,
            shuffle=train,
            # BatchNorm cannot train on a batch of one; a ragged last batch also skews it
            drop_last=train and len(ds) >= bs,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=self.pin_memory,
            collate_fn=self.task.collate,
        )

    def train_dataloader(self) -> DataLoader[Any]:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader[Any]:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader[Any]:
        return self._loader("test", train=False)
