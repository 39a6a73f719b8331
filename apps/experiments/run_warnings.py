"""Warnings about a run, computed from its finished epochs (shown on the run panel and in
the experiment API payload as ``warnings``).

The one rule today, :func:`chance_warning`: a run whose validation score has not left the
task's chance level (``Task.chance_level``: accuracy of always answering the most common
class, AUROC 0.5, R² 0).

- It waits for :data:`MIN_EPOCHS` finished epochs (one epoch of warm-up often sits there).
- It looks at the *best* value so far, not the last: a run that once learned and then
  wobbled is not at chance level; one that never got above it is.
- "At chance" = best ≤ chance + margin, margin = max(0.02, 10 % of the chance level): with
  10 classes (chance 0.10) it fires up to 0.12 accuracy, with 2 balanced classes up to 0.55,
  AUROC up to 0.55, R² up to 0.02. Scores below chance fire too (no better than guessing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MIN_EPOCHS = 2


def chance_margin(chance: float) -> float:
    return max(0.02, 0.1 * abs(chance))


def _causes(config: Mapping[str, Any]) -> list[str]:
    """Likely reasons, the ones this run's settings point at first."""
    lr = float(config.get("lr") or 0)
    optimizer = str(config.get("optimizer") or "adamw")
    pretrained = bool(config.get("pretrained"))
    specific: list[str] = []
    if config.get("freeze_backbone") and not pretrained:
        specific.append(
            "The backbone is frozen without pretrained weights: only the last layer learns, "
            "on random features. Unfreeze it or start from ImageNet weights."
        )
    high = 0.1 if optimizer == "sgd" else 0.01
    if lr > high:
        specific.append(f"The learning rate {lr:g} is high for {optimizer}: try {high / 10:g}.")
    if 0 < lr < 1e-5:
        specific.append(f"The learning rate {lr:g} is very low: try 0.001.")
    general = [
        f"The learning rate may be too high or too low (now {lr:g}).",
        "Too few epochs so far: small models trained from scratch often need 10 or more.",
    ]
    if not pretrained:
        general.append("Trained from scratch on few images: pretrained weights help most there.")
    if "mobilenet" in str(config.get("model", "")):
        general.append(
            "MobileNetV3 trained from scratch starts slowly (its BatchNorm adapts slowly): "
            "give it more epochs or try ResNet-18."
        )
    general.append("Check a few images per class on the Dataset page: are the labels right?")
    return specific + general


def chance_warning(
    rows: Sequence[Mapping[str, Any]],
    chance: tuple[str, float] | None,
    config: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The chance-level warning for these ``metrics.json`` rows, or None (see the module)."""
    if chance is None:
        return None
    metric, level = chance
    key = f"val_{metric}"
    values = [float(r[key]) for r in rows if isinstance(r.get(key), int | float)]
    if len(values) < MIN_EPOCHS:
        return None
    best = max(values)
    if best > level + chance_margin(level):
        return None
    epochs = len(values)
    return {
        "code": "chance_level",
        "metric": key,
        "value": best,
        "chance": level,
        "epochs": epochs,
        "message": (
            f"{key} has stayed at chance level for {epochs} epochs: best {best:.3f}, "
            f"while a model that learned nothing scores {level:.3f}. "
            "The model is not learning yet."
        ),
        "causes": _causes(config),
    }


def run_warnings(
    rows: Sequence[Mapping[str, Any]],
    chance: tuple[str, float] | None,
    config: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Every warning that applies to the run (each ``{code, message, causes, …}``)."""
    found = chance_warning(rows, chance, config)
    return [found] if found else []
