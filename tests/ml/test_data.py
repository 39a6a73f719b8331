"""Training-resolution cache, dataset and data module."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.errors import StudioError, ValidationFailed
from studio.ml import data
from studio.ml.data import Sample, StudioDataModule, build_image_cache, cache_path, decode_image
from studio.ml.tasks.registry import load_task
from studio.storage.dataset_schemas import DatasetFile


class OpenCounter:
    """Counts ``PIL.Image.open`` calls per file while delegating to the real one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real = Image.open

        def counting_open(fp, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls.append(str(fp))
            return real(fp, *args, **kwargs)

        monkeypatch.setattr(Image, "open", counting_open)


def _copy(samples: list[Sample], folder: Path) -> list[Sample]:
    folder.mkdir()
    out = []
    for s in samples:
        target = folder / s.image_path.name
        shutil.copyfile(s.image_path, target)
        out.append(Sample(target, s.record, s.subset))
    return out


def test_cache_decodes_each_file_once_and_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, digits_small: tuple[list[Sample], DatasetFile]
) -> None:
    samples, dataset = digits_small
    counter = OpenCounter(monkeypatch)
    task = load_task("classification")
    config = task.make_config({"image_size": 32, "batch_size": 16})
    cache = tmp_path / "cache"

    dm = StudioDataModule(task, samples, dataset, config, cache)
    dm.prepare()
    assert sorted(counter.calls) == sorted(str(s.image_path) for s in samples)
    files = sorted(cache.glob("*.npy"))
    assert len(files) == 3  # train (larger, for random crops), val, test
    mtimes = {f: f.stat().st_mtime_ns for f in files}

    # epochs read from the cache only
    for _ in range(2):
        for _batch in dm.train_dataloader():
            pass
        for _batch in dm.val_dataloader():
            pass
    assert len(counter.calls) == len(samples)

    # a rerun (new data module, same ids and sizes) reuses the files untouched
    again = StudioDataModule(load_task("classification"), samples, dataset, config, cache)
    again.prepare()
    assert len(counter.calls) == len(samples)
    assert {f: f.stat().st_mtime_ns for f in sorted(cache.glob("*.npy"))} == mtimes
    assert not list(cache.glob(".*"))  # no temp files left behind


def test_batches_have_training_size_and_labels(
    digits_small: tuple[list[Sample], DatasetFile], tmp_path: Path
) -> None:
    samples, dataset = digits_small
    task = load_task("classification")
    config = task.make_config({"image_size": 32, "batch_size": 16})
    dm = StudioDataModule(task, samples, dataset, config, tmp_path)
    dm.prepare()
    assert dm.counts() == {"train": 240, "val": 30, "test": 30}
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (16, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and int(labels.min()) >= 0 and int(labels.max()) <= 9
    images, labels = next(iter(dm.val_dataloader()))
    # evaluation images are the cached pixels, untouched
    by_id = {s.record.id: s for s in samples if s.subset == "val"}
    first = next(iter(by_id.values()))
    assert images.shape[1:] == (3, 32, 32)
    assert first.record.annotations.label is not None


def test_decode_image_squashes_to_rgb(tmp_path: Path) -> None:
    path = tmp_path / "wide.jpg"
    Image.new("L", (400, 100), color=200).save(path, quality=95)
    arr = decode_image(path, 64)
    assert arr.shape == (3, 64, 64) and arr.dtype == np.uint8
    assert abs(int(arr.mean()) - 200) <= 2


def test_corrupt_image_is_named(
    tmp_path: Path, digits_small: tuple[list[Sample], DatasetFile]
) -> None:
    samples, _dataset = digits_small
    copies = _copy(samples[:40], tmp_path / "imgs")
    broken = copies[5]
    broken.image_path.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(StudioError) as err:
        build_image_cache(copies, 32, tmp_path / "cache")
    assert broken.record.original_name in err.value.message
    assert err.value.code == "bad_image"
    assert not list((tmp_path / "cache").glob("*"))  # no partial cache file


def test_cache_key_depends_on_ids_and_size(tmp_path: Path) -> None:
    a = cache_path(tmp_path, ["a", "b"], 32)
    assert a == cache_path(tmp_path, ["a", "b"], 32)
    assert a != cache_path(tmp_path, ["b", "a"], 32)
    assert a != cache_path(tmp_path, ["a", "b"], 64)


def test_unusable_and_missing_subsets(
    tmp_path: Path, digits_small: tuple[list[Sample], DatasetFile]
) -> None:
    samples, dataset = digits_small
    task = load_task("classification")
    config = task.make_config({"image_size": 32})
    unlabeled = samples[0].record.model_copy(
        update={"annotations": samples[0].record.annotations.model_copy(update={"label": None})}
    )
    mixed = [Sample(samples[0].image_path, unlabeled, samples[0].subset), *samples[1:]]
    dm = StudioDataModule(task, mixed, dataset, config, tmp_path)
    dm.prepare()
    assert dm.skipped == 1

    only_train = [s for s in samples if s.subset == "train"]
    with pytest.raises(ValidationFailed, match="no usable val images"):
        StudioDataModule(task, only_train, dataset, config, tmp_path).prepare()
    bad = [Sample(samples[0].image_path, samples[0].record, "holdout"), *samples[1:]]
    with pytest.raises(ValidationFailed, match="Unknown subset"):
        StudioDataModule(task, bad, dataset, config, tmp_path).prepare()


def test_dataset_pickles_without_the_memory_map(
    tmp_path: Path, digits_small: tuple[list[Sample], DatasetFile]
) -> None:
    import pickle

    samples, dataset = digits_small
    task = load_task("classification")
    dm = StudioDataModule(task, samples, dataset, task.make_config({"image_size": 32}), tmp_path)
    dm.prepare()
    ds = dm.datasets["val"]
    ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._array is None
    assert torch.equal(clone[3][0], ds[3][0])
    assert data.CACHE_FORMAT >= 1
