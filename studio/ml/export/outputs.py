"""What an exported output means: how to validate it and how to answer "try it" with it.

A task declares its exported output with ``Task.export_output(num_outputs)``; the
``output_name`` there (also stored in every file's metadata) picks an :class:`OutputKind`
here. Validation, the try-it predictor and the page only ever ask the kind, so a new task
whose file outputs ``logits``, ``score`` or ``values`` needs nothing here, and a new kind of
output is one class plus one line in :data:`KINDS`.

- ``logits`` (classification): numeric check with absolute ``atol``; parity = the same
  predicted class (argmax); accuracy against the labels; try-it = top-k probabilities.
- ``score`` (anomaly detection): scores in [0, 1]; parity = the same verdict at the file's
  ``threshold``; accuracy against good/anomalous; try-it = score + verdict.
- ``values`` (regression): original units, so the numeric check's ``atol`` is scaled by the
  outputs' magnitude; parity = every output of an image within that tolerance; no
  accuracy; try-it = each target name with its value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from studio.errors import Damaged

Metadata = Mapping[str, str]


class OutputKind:
    """One kind of exported output. Subclasses override what differs from raw values."""

    name: ClassVar[str]
    agreement_label: ClassVar[str]  # what parity's agreement counts, for people
    scaled_atol: ClassVar[bool] = False  # atol is multiplied by the outputs' magnitude
    labelled: ClassVar[bool] = False  # parity can score accuracy against integer targets

    def atol_scale(self, reference: np.ndarray) -> float:
        """Factor applied to ``atol`` for this batch of reference outputs."""
        if not self.scaled_atol or not reference.size or not np.isfinite(reference).all():
            return 1.0
        return max(1.0, float(np.abs(reference).max()))

    def same(
        self, reference: np.ndarray, export: np.ndarray, md: Metadata, *, rtol: float, atol: float
    ) -> np.ndarray:
        """Per image: does the export give the same answer as PyTorch?"""
        tol = atol * self.atol_scale(reference) + rtol * np.abs(reference)
        close = np.abs(export - reference) <= tol
        return np.asarray(close.reshape(len(reference), -1).all(axis=1))

    def decide(self, outputs: np.ndarray, md: Metadata) -> np.ndarray:
        """Per image: the integer decision compared with targets (``labelled`` kinds only)."""
        raise NotImplementedError

    def answer(self, row: np.ndarray, md: Metadata, k: int) -> dict[str, Any]:
        """The try-it answer for one image's outputs (JSON-able)."""
        raise NotImplementedError


class ClassScores(OutputKind):
    name: ClassVar[str] = "logits"
    agreement_label: ClassVar[str] = "same prediction"
    labelled: ClassVar[bool] = True

    def same(
        self, reference: np.ndarray, export: np.ndarray, md: Metadata, *, rtol: float, atol: float
    ) -> np.ndarray:
        return np.asarray(reference.argmax(axis=1) == export.argmax(axis=1))

    def decide(self, outputs: np.ndarray, md: Metadata) -> np.ndarray:
        return np.asarray(outputs.argmax(axis=1))

    def answer(self, row: np.ndarray, md: Metadata, k: int) -> dict[str, Any]:
        names = [str(n) for n in _json(md, "class_names", [])]
        ids = [int(i) for i in _json(md, "class_ids", [])] or list(range(len(names)))
        predictions = top_k(row, names, ids, k)
        return {"predictions": predictions, "top_k": len(predictions)}


class AnomalyScore(OutputKind):
    name: ClassVar[str] = "score"
    agreement_label: ClassVar[str] = "same verdict"
    labelled: ClassVar[bool] = True

    def decide(self, outputs: np.ndarray, md: Metadata) -> np.ndarray:
        return np.asarray(outputs.reshape(len(outputs), -1)[:, 0] >= threshold_of(md), np.int64)

    def same(
        self, reference: np.ndarray, export: np.ndarray, md: Metadata, *, rtol: float, atol: float
    ) -> np.ndarray:
        return np.asarray(self.decide(reference, md) == self.decide(export, md))

    def answer(self, row: np.ndarray, md: Metadata, k: int) -> dict[str, Any]:
        score = float(np.asarray(row, np.float64).ravel()[0])
        threshold = threshold_of(md)
        anomalous = score >= threshold
        return {
            "score": round(score, 6),
            "threshold": threshold,
            "threshold_source": md.get("threshold_source", ""),
            "anomalous": anomalous,
            "verdict": "anomalous" if anomalous else "good",
        }


class TargetValues(OutputKind):
    name: ClassVar[str] = "values"
    agreement_label: ClassVar[str] = "outputs within tolerance"
    scaled_atol: ClassVar[bool] = True

    def answer(self, row: np.ndarray, md: Metadata, k: int) -> dict[str, Any]:
        values = np.asarray(row, np.float64).ravel()
        names = [str(n) for n in _json(md, "target_names", [])]
        return {
            "values": [
                {"name": names[i] if i < len(names) else f"target {i}", "value": float(v)}
                for i, v in enumerate(values)
            ]
        }


KINDS: dict[str, OutputKind] = {kind.name: kind for kind in (ClassScores(), AnomalyScore(), TargetValues())}  # fmt: skip


def kind_of(output_name: str) -> OutputKind | None:
    """The kind for an ``output_name`` a task declares (None = Studio cannot validate it)."""
    return KINDS.get(output_name)


def kind_for(md: Metadata) -> OutputKind:
    """The kind of an exported file from its metadata (``Damaged`` if unknown).

    Files without ``output_name`` predate it and output logits.
    """
    kind = kind_of(md.get("output_name", "logits"))
    if kind is None:
        raise Damaged(
            f"The exported file's output {md.get('output_name')!r} is not one Studio knows"
        )
    return kind


def threshold_of(md: Metadata) -> float:
    try:
        return float(md.get("threshold", "0.5"))
    except ValueError as exc:
        raise Damaged(f"The exported file's threshold is not a number ({exc})") from exc


def _json(md: Metadata, key: str, default: Any) -> Any:
    try:
        return json.loads(md[key]) if key in md else default
    except ValueError as exc:
        raise Damaged(f"The exported file's metadata {key!r} is not JSON ({exc})") from exc


def top_k(logits: np.ndarray, names: list[str], ids: list[int], k: int) -> list[dict[str, Any]]:
    """The ``k`` most probable classes (softmax of one row of logits), most probable first."""
    z = np.asarray(logits, np.float64).ravel()
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")[: max(1, min(k, len(p)))]
    return [
        {
            "class_id": ids[i] if i < len(ids) else int(i),
            "class_name": names[i] if i < len(names) else str(i),
            "probability": round(float(p[i]), 6),
        }
        for i in (int(j) for j in order)
    ]
