"""Try-it inference: one uploaded image through an exported file or a checkpoint.

The answer's shape follows the output's kind (:mod:`.outputs`, from ``output_name`` in the
metadata): ``logits`` → ``predictions`` (top-k classes with probabilities) and ``top_k``;
``score`` → ``score``, ``threshold``, ``threshold_source``, ``anomalous``, ``verdict``
(``anomalous``/``good``); ``values`` → ``values`` (``[{name, value}]`` in original units).
Every answer also has ``output_name``, ``inference_ms`` and ``image_size``.

- :func:`export_predictor` loads an exported file and takes the preprocessing and the
  output's meaning from the file's own metadata (proving the file alone is enough); ONNX
  files go through :mod:`.onnx_safety` and their SHA-256 must match ``export.json``.
- :func:`checkpoint_predictor` loads a checkpoint with ``load_for_inference`` and runs the
  task's export graph on it, so it answers exactly like an export of it would.
- Loaded predictors are kept in a small LRU (keyed by path, size, mtime and hash), so the
  web process loads a model once, not per request.
- :func:`decode_upload` turns anything that is not a readable image into a
  ``ValidationFailed`` (``bad_image``) with a sentence.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.errors import Damaged, ValidationFailed
from studio.ml.export.outputs import OutputKind, kind_for, top_k
from studio.ml.export.validate import Preprocess

__all__ = ["Predictor", "checkpoint_predictor", "decode_upload", "export_predictor", "predict",
           "top_k"]  # fmt: skip

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_TOP_K = 5
_CACHE_SIZE = 4
_cache: OrderedDict[tuple[Any, ...], Predictor] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Predictor:
    """A loaded model: ``run`` maps model input to the exported output ``metadata`` describes."""

    run: Callable[[np.ndarray], np.ndarray]
    pre: Preprocess
    metadata: dict[str, str]  # the file's (or the checkpoint's would-be) metadata
    model: str

    @property
    def kind(self) -> OutputKind:
        return kind_for(self.metadata)


def decode_upload(data: bytes, size: int) -> np.ndarray:
    """uint8 ``(3, size, size)`` of an uploaded image, or ``ValidationFailed`` (``bad_image``)."""
    if not data:
        raise ValidationFailed("The uploaded file is empty; choose an image file", code="bad_image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            f"The image is larger than {MAX_UPLOAD_BYTES // 2**20} MB; choose a smaller one",
            code="image_too_large",
        )
    from studio.ml.data import decode_image  # imports torch + lightning: only when used

    try:
        return decode_image(io.BytesIO(data), size)  # type: ignore[arg-type]
    except Exception as exc:  # PIL raises many types (and DecompressionBombError)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationFailed(
            f"The uploaded file is not an image Studio can read ({reason}). "
            "Choose a JPEG, PNG, BMP, GIF, TIFF or WebP image.",
            code="bad_image",
        ) from None


def predict(predictor: Predictor, data: bytes, k: int = DEFAULT_TOP_K) -> dict[str, Any]:
    """The answer for one uploaded image (shape: see the module), with the time it took.

    ``k`` is the number of classes listed for class scores (ignored otherwise).
    """
    kind = predictor.kind
    image = decode_upload(data, predictor.pre.image_size)
    started = time.perf_counter()
    row = predictor.run(predictor.pre.to_input(image[None]))[0]
    elapsed = time.perf_counter() - started
    return {
        "output_name": kind.name,
        **kind.answer(row, predictor.metadata, k),
        "inference_ms": round(1000 * elapsed, 2),
        "image_size": predictor.pre.image_size,
    }


def _cached(key: tuple[Any, ...], build: Callable[[], Predictor]) -> Predictor:
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    predictor = build()  # outside the lock: loading can take a second
    with _lock:
        _cache[key] = predictor
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return predictor


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _stat_key(path: Path) -> tuple[Any, ...]:
    st = Path(path).stat()
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ino)


def preprocess_from_metadata(md: dict[str, str]) -> Preprocess:
    """The preprocessing an exported file describes (``Damaged`` if the metadata is unusable)."""
    try:
        return Preprocess(
            image_size=int(md["image_size"]),
            mean=[float(v) for v in json.loads(md["mean"])],
            std=[float(v) for v in json.loads(md["std"])],
            normalize=md.get("normalize", "true") == "true",
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise Damaged(f"The exported file's metadata is incomplete ({exc})") from exc


def export_predictor(path: Path, folder: Path, fmt: str, expected_sha256: str | None) -> Predictor:
    """A predictor for an exported file; the file's hash must equal ``expected_sha256``."""

    def build() -> Predictor:
        if fmt == "onnx":
            from studio.ml.export.onnx_format import load_onnx

            loaded = load_onnx(path, folder, expected_sha256=expected_sha256)
        else:
            from studio.ml.export import get_format

            if expected_sha256 and _sha256(path) != expected_sha256:
                raise Damaged(
                    f"{Path(path).name} changed since it was exported (SHA-256 differs)",
                    code="export_modified",
                )
            loaded = get_format(fmt).load(path, folder)
        md = loaded.metadata
        kind_for(md)  # an output Studio cannot present is refused now, not per request
        return Predictor(loaded.run, preprocess_from_metadata(md), md, md.get("model", ""))

    return _cached(("export", fmt, expected_sha256, *_stat_key(path)), build)


def checkpoint_predictor(path: Path, settings: Mapping[str, str] | None = None) -> Predictor:
    """A predictor for a checkpoint (PyTorch eager, CPU) on the task's export graph.

    ``settings`` are what an export would carry (``base.task_settings``: the anomaly
    threshold); they are part of the cache key.
    """
    extra = dict(settings or {})

    def build() -> Predictor:
        import torch

        from studio.ml.checkpoints import load_for_inference
        from studio.ml.tasks.registry import load_task

        model, meta = load_for_inference(path)
        task = load_task(meta.task)
        task.load_state(meta.task_state)
        graph = task.export_module(model).eval()
        ids = meta.task_state.get("class_ids") or list(range(meta.num_outputs))
        md = {
            "class_names": json.dumps(list(meta.class_names), ensure_ascii=False),
            "class_ids": json.dumps([int(i) for i in ids]),
            **task.export_output(meta.num_outputs),
            **extra,
        }

        def run(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out: np.ndarray = graph(torch.from_numpy(x)).float().numpy()
            return out

        pre = Preprocess(meta.image_size, meta.mean, meta.std, bool(task.normalize_inputs))
        return Predictor(run, pre, md, meta.model)

    return _cached(("checkpoint", tuple(sorted(extra.items())), *_stat_key(path)), build)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
