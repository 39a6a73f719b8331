"""Studio's one vocabulary of metrics: the name every page shows and how it writes the number.

Every metric key Studio produces — the training logs (``train_loss``, ``val_accuracy``,
``val_auroc``, ``val_mae``…), the evaluation aggregates (``accuracy``, ``macro_f1``, ``ece``,
``auroc``, ``mae``, ``r2``…), the export parity (``agreement``) — has one :class:`Metric`:
a label ("Accuracy"), a short label for chart legends and narrow tables ("Acc."), and a
:data:`Kind` that fixes its format (:data:`FORMATS`). The prefixes ``train_``, ``val_``,
``test_`` are handled generically: ``val_accuracy`` reads "Validation accuracy" and is
formatted like ``accuracy``.

The browser gets the same data once (:func:`as_json`, written by ``templates/base.html`` as
``<script id="studio-vocabulary" type="application/json">``) and ``static/studio/format.js``
implements :func:`format_value` over it, so a number reads the same on every page, in a
template (``{{ value|metric:"val_accuracy" }}``) and in a chart. ``tests/ml/test_vocabulary.py``
checks that every metric a task declares is listed here, and a browser test that the JS
formatter writes exactly what this module writes.

Rounding: half away from zero on the float's exact binary value, which is what JavaScript's
``Number.prototype.toFixed`` does (Python's own ``format`` rounds half to even).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Literal

Kind = Literal["share", "loss", "error", "count", "score", "threshold", "r2", "number"]

# How each kind is written. ``fixed``: that many decimals; ``sig``: that many significant
# digits (trailing zeros kept, so 3.50 says its precision); ``percent``: 100 times the value with
# that many decimals and " %".
FORMATS: dict[Kind, dict[str, Any]] = {
    "share": {"style": "percent", "digits": 1},  # 0..1 → "98.9 %"
    "loss": {"style": "sig", "digits": 4},  # "0.2346", "1.234"
    "error": {"style": "sig", "digits": 3},  # in the targets' units: "3.50", "0.0123", "124"
    "count": {"style": "fixed", "digits": 0},
    "score": {"style": "fixed", "digits": 4},  # an anomaly score in 0..1
    "threshold": {"style": "fixed", "digits": 4},
    "r2": {"style": "fixed", "digits": 3},  # 1 = perfect, may be negative
    "number": {"style": "sig", "digits": 4},  # anything else (learning rate, unknown keys)
}

MISSING = "\u2013"  # an en dash: None, NaN or infinity


@dataclass(frozen=True)
class Metric:
    label: str  # sentence case: "Accuracy", "Average precision", "AUROC"
    short: str  # for chart legends and narrow table headers
    kind: Kind
    help: str = ""  # a tooltip sentence


METRICS: dict[str, Metric] = {
    # losses and training bookkeeping
    "loss": Metric("Loss", "Loss", "loss", "The training objective: lower is better"),
    "lr": Metric("Learning rate", "LR", "number"),
    # class metrics (classification; anomaly detection at its threshold)
    "accuracy": Metric("Accuracy", "Accuracy", "share", "Share of images predicted right"),
    "precision": Metric("Precision", "Precision", "share", "Of the images predicted as a class, "
                        "the share that are"),
    "recall": Metric("Recall", "Recall", "share", "Of the images of a class, the share found"),
    "f1": Metric("F1", "F1", "share", "Harmonic mean of precision and recall"),
    "macro_precision": Metric("Macro precision", "Macro prec.", "share",
                              "Precision averaged over the classes, unweighted"),
    "macro_recall": Metric("Macro recall", "Macro recall", "share",
                           "Recall averaged over the classes, unweighted"),
    "macro_f1": Metric("Macro F1", "Macro F1", "share", "F1 averaged over the classes, unweighted"),
    "ece": Metric("ECE", "ECE", "share", "Expected calibration error, 15 bins: the mean gap "
                  "between confidence and accuracy (0 = calibrated)"),
    "confidence": Metric("Confidence", "Confidence", "share", "Probability of the predicted class"),
    "probability": Metric("Probability", "Probability", "share"),
    # anomaly detection
    "auroc": Metric("AUROC", "AUROC", "share", "Area under the ROC curve: the chance that an "
                    "anomalous image scores higher than a good one (50 % = guessing)"),
    "average_precision": Metric("Average precision", "AP", "share",
                                "Area under the precision-recall curve"),
    "score": Metric("Anomaly score", "Score", "score", "0 = surely good, 1 = surely anomalous"),
    "threshold": Metric("Threshold", "Threshold", "threshold"),
    "best_f1_threshold": Metric("Best-F1 threshold", "Best F1 thr.", "threshold"),
    "youden_threshold": Metric("Youden threshold", "Youden thr.", "threshold"),
    "fpr": Metric("False positive rate", "FPR", "share", "Good images flagged anomalous"),
    "tpr": Metric("True positive rate", "TPR", "share", "Anomalous images caught"),
    # regression (in the targets' own units)
    "mae": Metric("MAE", "MAE", "error", "Mean absolute error, in the targets' units"),
    "mse": Metric("MSE", "MSE", "error", "Mean squared error, in squared units"),
    "rmse": Metric("RMSE", "RMSE", "error", "Root mean squared error, in the targets' units"),
    "r2": Metric("R²", "R²", "r2", "Coefficient of determination: 1 = perfect, 0 = no better "
                 "than the mean"),
    "error": Metric("Absolute error", "Abs. error", "error"),
    # counts
    "count": Metric("Images", "Images", "count"),
    "correct": Metric("Correct", "Correct", "count"),
    "anomalous": Metric("Anomalous", "Anomalous", "count"),
    "support": Metric("Images", "Images", "count", "Images whose true class this is"),
    # export validation
    "agreement": Metric("Same prediction", "Same pred.", "share",
                        "Images on which the export and PyTorch agree"),
}  # fmt: skip

# subset prefixes of training/evaluation keys: (label, short)
PREFIXES: dict[str, tuple[str, str]] = {
    "train_": ("Training", "Train"),
    "val_": ("Validation", "Val"),
    "test_": ("Test", "Test"),
}

# "Accuracy" → "accuracy" after a prefix; "AUROC", "F1", "R²", "MAE" keep their case
_LOWER_AFTER_PREFIX = re.compile(r"^[A-Z][a-z]")


def split_name(name: str) -> tuple[str, str]:
    """``("val_", "accuracy")`` for ``val_accuracy``; ``("", name)`` without a known prefix."""
    for prefix in PREFIXES:
        if name.startswith(prefix) and name[len(prefix) :]:
            return prefix, name[len(prefix) :]
    return "", name


def lookup(name: str) -> Metric | None:
    """The vocabulary entry of ``name`` (prefix ignored), or None for an unknown key."""
    return METRICS.get(split_name(name)[1])


def _join(prefix_label: str, label: str) -> str:
    if _LOWER_AFTER_PREFIX.match(label):
        label = label[0].lower() + label[1:]
    return f"{prefix_label} {label}"


def metric_label(name: str, *, short: bool = False) -> str:
    """Human label: ``val_accuracy`` → "Validation accuracy" (short: "Val acc."),
    ``train_loss`` → "Training loss", ``auroc`` → "AUROC". Unknown keys: underscores become
    spaces, first letter capitalised."""
    prefix, base = split_name(name)
    metric = METRICS.get(base)
    if metric is None:
        text = base.replace("_", " ")
        label = text[:1].upper() + text[1:]
    else:
        label = metric.short if short else metric.label
    if not prefix:
        return label
    return _join(PREFIXES[prefix][1 if short else 0], label)


def metric_kind(name: str) -> Kind:
    metric = lookup(name)
    return metric.kind if metric else "number"


def _decimal_text(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, half away from zero (JavaScript's ``toFixed``)."""
    with localcontext() as context:
        context.prec = 400  # exact for any float at these decimals
        quantum = Decimal(1).scaleb(-decimals)
        return format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP), "f")


def fixed(value: float, decimals: int) -> str:
    if value == 0:
        value = 0.0  # no "-0.00"
    if abs(value) >= 1e21:  # JavaScript's toFixed switches to exponent notation there
        return repr(value)
    return _decimal_text(value, decimals)


def sig_decimals(value: float, digits: int) -> int:
    """Decimals that give ``value`` ``digits`` significant digits (0 for large numbers)."""
    if value == 0 or not math.isfinite(value):
        return max(0, digits - 1)
    return min(10, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def format_number(value: float, style: str, digits: int) -> str:
    if style == "percent":
        return f"{fixed(100 * value, digits)} %"
    if style == "sig":
        return fixed(value, sig_decimals(value, digits))
    return fixed(value, digits)


def format_value(name: str, value: Any) -> str:
    """``value`` of metric ``name`` as every page writes it: "98.9 %" (shares), "0.2346"
    (losses), "3.50" (errors in target units), "0.912" (R²), "0.5000" (thresholds, scores);
    an en dash (``MISSING``) for a missing or non-finite value."""
    if value is None or isinstance(value, bool):
        return MISSING
    try:
        number = float(value)
    except (TypeError, ValueError):
        return MISSING
    if not math.isfinite(number):
        return MISSING
    spec = FORMATS[metric_kind(name)]
    return format_number(number, spec["style"], spec["digits"])


def format_in_units(value: Any, scale: float | None) -> str:
    """``value`` (in target units) with the decimals that give ``scale`` (a typical error, the
    MAE) three significant digits, so a column of values lines up: 8.00, 12.35 for MAE 3.50.
    Three decimals without a usable scale."""
    if value is None or isinstance(value, bool):
        return MISSING
    number = float(value)
    if not math.isfinite(number):
        return MISSING
    usable = scale is not None and math.isfinite(scale) and scale > 0
    return fixed(number, sig_decimals(float(scale), 3) if usable else 3)  # type: ignore[arg-type]


def as_json() -> dict[str, Any]:
    """The vocabulary for the browser (``static/studio/format.js``), JSON-able."""
    return {
        "metrics": {
            key: {"label": m.label, "short": m.short, "kind": m.kind, "help": m.help}
            for key, m in METRICS.items()
        },
        "prefixes": {p: {"label": label, "short": short} for p, (label, short) in PREFIXES.items()},
        "formats": FORMATS,
        "missing": MISSING,
    }
