"""Training settings suggested from the data (pure functions; the reads are in selectors).

Image size: images are resized to a square side before training. Training far above the
images' own resolution only costs time, and below 32 px the catalog's CNNs (total stride
32) end on a feature map under 1x1. So the suggestion is the side of the median image's
pixel count, ``sqrt(median width * median height)``, rounded to a multiple of
:data:`SIZE_STEP`, kept within ``[MIN_IMAGE_SIZE, model.native_size]`` (the size the model's
ImageNet weights were trained at; larger gains little for a lot of time).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from studio.ml.catalog import ModelSpec

MIN_IMAGE_SIZE = 32
SIZE_STEP = 32


def suggest_image_size(median_width: int, median_height: int, native_size: int) -> int:
    """The suggested square side in pixels (see the module docstring)."""
    side = math.sqrt(max(median_width, 1) * max(median_height, 1))
    if side >= native_size:
        return max(native_size, MIN_IMAGE_SIZE)
    rounded = max(SIZE_STEP, round(side / SIZE_STEP) * SIZE_STEP)
    return int(min(max(rounded, MIN_IMAGE_SIZE), max(native_size, MIN_IMAGE_SIZE)))


def image_size_hint(
    median_width: int, median_height: int, models: Iterable[ModelSpec]
) -> dict[str, Any]:
    """JSON for the training form: the median size and the suggestion per model key."""
    models = list(models)
    return {
        "median_width": median_width,
        "median_height": median_height,
        "min": MIN_IMAGE_SIZE,
        "per_model": {
            m.key: suggest_image_size(median_width, median_height, m.native_size) for m in models
        },
        "native": {m.key: m.native_size for m in models},
    }
