"""Validation of an exported file against the checkpoint it came from, on real images.

Two checks, both stored in ``export.json`` and shown (a failure is never hidden). The
reference is PyTorch eager on ``Task.export_module(model)`` (the graph that was exported);
what "the same answer" means comes from the output's kind (:mod:`.outputs`), which the task
declares through its ``output_name``:

1. :func:`numeric_check`: PyTorch and the exported file run on the same batch of real images
   (up to :data:`NUMERIC_BATCH`, batch > 1 so the dynamic batch axis is exercised); every
   output element must satisfy ``|export - torch| <= atol * scale + rtol * |torch|`` where
   ``scale`` is 1, or for outputs in original units (regression) the outputs' magnitude
   ``max(1, max |torch|)``; the stored ``atol`` is the scaled one.
2. :func:`parity_check`: both on every image of a subset; the fraction of images with the
   same answer (``agreement``: predicted class, verdict at the threshold, or every output
   within the numeric tolerance) and, where answers are decisions, each one's accuracy.

Inputs are built once (:func:`to_input`) and fed to both, so only the runtimes differ.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.errors import StudioError
from studio.ml.export.outputs import KINDS, OutputKind
from studio.storage.export_schemas import ImageSource, NumericCheck, ParityCheck, Validation

Runner = Callable[[np.ndarray], np.ndarray]
ProgressFn = Callable[[int, int], None]

DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-5
DEFAULT_PARITY = 0.99
NUMERIC_BATCH = 8
PARITY_BATCH = 32


class ValidationCancelled(StudioError):
    code = "cancelled"


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes model input (from a checkpoint or a file's metadata)."""

    image_size: int
    mean: Sequence[float]
    std: Sequence[float]
    normalize: bool = True

    def to_input(self, images: np.ndarray) -> np.ndarray:
        """uint8 ``(N, 3, S, S)`` → float32 model input, as training's ``_to_float`` does."""
        x = images.astype(np.float32) / np.float32(255.0)
        if self.normalize:
            mean = np.asarray(self.mean, np.float32).reshape(1, -1, 1, 1)
            std = np.asarray(self.std, np.float32).reshape(1, -1, 1, 1)
            x = (x - mean) / std
        return np.ascontiguousarray(x, dtype=np.float32)


@dataclass(frozen=True)
class LabelledImage:
    """One image to validate on: its file and its true output index (None = unlabelled)."""

    path: Path
    target: int | None


def decode_many(items: Sequence[LabelledImage], size: int) -> tuple[np.ndarray, list[int]]:
    """uint8 ``(n, 3, size, size)`` of the readable images and their indices in ``items``.

    Unreadable or missing files are skipped (validation must not fail over one bad image;
    the count of images used is reported).
    """

    from studio.ml.data import decode_image  # imports torch + lightning: only when used

    def one(item: LabelledImage) -> np.ndarray | None:
        try:
            return decode_image(item.path, size)
        except Exception:  # PIL raises many types for broken files
            return None

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        decoded = list(pool.map(one, items))
    kept = [i for i, arr in enumerate(decoded) if arr is not None]
    if not kept:
        return np.zeros((0, 3, size, size), np.uint8), []
    return np.stack([decoded[i] for i in kept]), kept  # type: ignore[misc]


def numeric_check(
    reference: Runner,
    candidate: Runner,
    batch: np.ndarray,
    source: ImageSource,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    kind: OutputKind = KINDS["logits"],
) -> NumericCheck:
    """Compare both runners' outputs element by element on one float32 batch.

    ``atol`` is multiplied by ``kind.atol_scale`` of the reference outputs (1 for logits and
    scores); the result stores the tolerance actually used.
    """
    ref = np.asarray(reference(batch), np.float64)
    out = np.asarray(candidate(batch), np.float64)
    atol = atol * kind.atol_scale(ref) if ref.shape == out.shape else atol
    if ref.shape != out.shape:
        return NumericCheck(
            passed=False, source=source, images=len(batch), rtol=rtol, atol=atol,
            max_abs_diff=float("inf"), mismatched=int(max(ref.size, out.size)),
        )  # fmt: skip
    diff = np.abs(out - ref)
    finite = bool(np.isfinite(out).all() and np.isfinite(ref).all())
    bad = ~(diff <= atol + rtol * np.abs(ref))
    return NumericCheck(
        passed=finite and not bad.any(),
        source=source,
        images=len(batch),
        rtol=rtol,
        atol=atol,
        max_abs_diff=float(diff.max()) if diff.size and finite else float("inf"),
        mismatched=int(bad.sum()),
    )


def parity_check(
    reference: Runner,
    candidate: Runner,
    items: Sequence[LabelledImage],
    pre: Preprocess,
    subset: str,
    *,
    threshold: float = DEFAULT_PARITY,
    batch_size: int = PARITY_BATCH,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    kind: OutputKind = KINDS["logits"],
    metadata: Mapping[str, str] | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> ParityCheck:
    """Both runners' answers on every readable image of ``items`` (``kind.same``; for
    ``kind.labelled`` outputs also ``kind.decide`` against each item's target).

    ``metadata`` is the exported file's (the anomaly threshold); ``rtol``/``atol`` are the
    tolerance of kinds compared numerically.
    """
    md = metadata or {}
    same = total = labelled = ref_right = out_right = 0
    for start in range(0, len(items), batch_size):
        if should_stop is not None and should_stop():
            raise ValidationCancelled("Cancelled on request")
        chunk = items[start : start + batch_size]
        images, kept = decode_many(chunk, pre.image_size)
        if kept:
            x = pre.to_input(images)
            ref_out = np.asarray(reference(x), np.float64)
            out_out = np.asarray(candidate(x), np.float64)
            if ref_out.shape != out_out.shape:
                agree = np.zeros(len(kept), bool)
            else:
                agree = kind.same(ref_out, out_out, md, rtol=rtol, atol=atol)
            same += int(agree.sum())
            total += len(kept)
            targets = [chunk[i].target for i in kept] if kind.labelled else []
            if any(t is not None for t in targets) and ref_out.shape == out_out.shape:
                ref, out = kind.decide(ref_out, md), kind.decide(out_out, md)
                for j, target in enumerate(targets):
                    if target is not None:
                        labelled += 1
                        ref_right += int(ref[j] == target)
                        out_right += int(out[j] == target)
        if on_progress:
            on_progress(min(start + batch_size, len(items)), len(items))
    agreement = same / total if total else 0.0
    acc_ref = ref_right / labelled if labelled else None
    acc_out = out_right / labelled if labelled else None
    return ParityCheck(
        passed=total > 0 and agreement >= threshold,
        subset=subset,  # type: ignore[arg-type]
        images=total,
        agreement=agreement,
        disagreements=total - same,
        threshold=threshold,
        labelled=labelled,
        accuracy_reference=acc_ref,
        accuracy_export=acc_out,
        accuracy_delta=(acc_out - acc_ref) if acc_ref is not None and acc_out is not None else None,
    )


def summarize(
    numeric: NumericCheck, parity: ParityCheck | None, kind: OutputKind = KINDS["logits"]
) -> Validation:
    """The verdict and one sentence saying why (``kind`` names what parity compared)."""
    parts = [
        f"max |diff| {numeric.max_abs_diff:.3g} on {numeric.images} images "
        + ("within" if numeric.passed else "OUTSIDE")
        + f" rtol {numeric.rtol:g} / atol {numeric.atol:g}"
    ]
    if parity is None:
        parts.append("no images for the parity check")
    else:
        parts.append(
            f"{kind.agreement_label} on {parity.agreement:.2%} of {parity.images} "
            f"{parity.subset} images"
            + ("" if parity.passed else f" (needs {parity.threshold:.0%})")
        )
    passed = numeric.passed and (parity is None or parity.passed)
    verdict = "Validation passed" if passed else "Validation FAILED"
    return Validation(
        passed=passed,
        message=f"{verdict}: " + "; ".join(parts) + ".",
        numeric=numeric,
        parity=parity,
    )
