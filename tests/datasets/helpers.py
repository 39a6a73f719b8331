"""Builders of small datasets on disk for the dataset tests."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

COLORS = {"cat": (200, 60, 60), "dog": (60, 160, 60), "bird": (60, 60, 200)}


def image_bytes(
    seed: int,
    size: tuple[int, int] = (48, 32),
    fmt: str = "JPEG",
    color: tuple[int, int, int] | None = None,
) -> bytes:
    """A small, unique picture (seeded noise over a colour) encoded as ``fmt``."""
    rng = np.random.default_rng(seed)
    w, h = size
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if color is not None:
        arr[: h // 2] = color
    out = io.BytesIO()
    Image.fromarray(arr).save(out, fmt)
    return out.getvalue()


def write_image(path: Path, seed: int, **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".png": "PNG", ".bmp": "BMP", ".gif": "GIF", ".webp": "WEBP"}.get(
        path.suffix.lower(), "JPEG"
    )
    path.write_bytes(image_bytes(seed, fmt=fmt, **kwargs))
    return path


def class_tree(root: Path, per_class: dict[str, int], start_seed: int = 0) -> Path:
    """``root/<class>/<class>_<n>.jpg`` with distinct images."""
    seed = start_seed
    for name, count in per_class.items():
        for n in range(count):
            write_image(root / name / f"{name}_{n:03d}.jpg", seed, color=COLORS.get(name))
            seed += 1
    return root


def coco_file(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))
    return path


def make_zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return path


def reasons(report: Any) -> dict[str, str]:
    """file -> reason of every issue of an import report."""
    return {issue.file: issue.reason for issue in report.issues}


def dataset_snapshot(dataset_dir: Path) -> dict[str, bytes]:
    """Every file of a dataset folder except reports and private folders, with its bytes."""
    out: dict[str, bytes] = {}
    if not dataset_dir.exists():
        return out
    for path in sorted(dataset_dir.rglob("*")):
        rel = path.relative_to(dataset_dir).as_posix()
        if path.is_file() and not rel.startswith(("imports/", ".")) and path.name != ".lock":
            out[rel] = path.read_bytes()
    return out
