"""Image augmentations, built from :class:`~studio.ml.hparams.Augmentations` with torchvision v2.

Contract (shared by every task whose targets v2 understands):

- Inputs are ``uint8`` CHW tensors read from the training cache, plus the task's target
  (an ``int`` passes through untouched; ``tv_tensors.BoundingBoxes``/``Mask`` inside a
  target are transformed together with the image). Outputs are ``uint8`` CHW tensors of
  exactly ``image_size`` x ``image_size``: conversion to float and normalisation happen
  later, on the training device (see :mod:`studio.ml.module`), because that moves a
  quarter of the bytes to the GPU and keeps the per-image CPU work small.
- The training cache stores images at :func:`cache_size`: slightly larger than the
  training size when random resized crops are on, so crops keep detail; exactly the
  training size otherwise (and always for validation/test).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchvision.transforms import v2

if TYPE_CHECKING:
    from studio.ml.hparams import Augmentations, TrainingConfig

_CROP_MARGIN = 8 / 7  # 224 → 256, the classic resize-then-crop ratio


def cache_size(config: TrainingConfig, *, train: bool) -> int:
    """Side (pixels) of the square images cached for the training or evaluation subsets."""
    if train and config.augment.random_resized_crop:
        return round(config.image_size * _CROP_MARGIN)
    return config.image_size


def train_transforms(aug: Augmentations, image_size: int, cached: int) -> v2.Transform:
    """Random augmentations for training: ``cached``-sized uint8 in, ``image_size`` out."""
    ops: list[v2.Transform] = []
    if aug.random_resized_crop:
        ops.append(
            v2.RandomResizedCrop(image_size, scale=(aug.crop_min_scale, 1.0), antialias=True)
        )
    elif cached != image_size:
        ops.append(v2.Resize((image_size, image_size), antialias=True))
    if aug.hflip:
        ops.append(v2.RandomHorizontalFlip())
    if aug.vflip:
        ops.append(v2.RandomVerticalFlip())
    if aug.rotation > 0:
        ops.append(v2.RandomRotation(aug.rotation))
    if aug.color_jitter > 0:
        s = aug.color_jitter
        ops.append(
            v2.ColorJitter(brightness=0.4 * s, contrast=0.4 * s, saturation=0.4 * s, hue=0.1 * s)
        )
    if aug.grayscale > 0:
        ops.append(v2.RandomGrayscale(p=aug.grayscale))
    if aug.random_erasing > 0:
        ops.append(v2.RandomErasing(p=aug.random_erasing, value=0))
    return v2.Compose(ops) if ops else v2.Identity()


def eval_transforms(image_size: int, cached: int) -> v2.Transform:
    """Deterministic preprocessing for validation, test and inference."""
    if cached != image_size:
        return v2.Resize((image_size, image_size), antialias=True)
    return v2.Identity()
