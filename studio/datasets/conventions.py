"""What an import reads for each task type: one declarative row per task, no ``if task ==``.

Importers and the pipeline ask :func:`rules_for` (through ``ImportOptions.rules``) instead of
comparing task names:

- ``numeric_targets``: value columns of a CSV are numbers to regress (``path,<numbers…>``);
  otherwise a CSV's second column is a class label.
- ``binary_classes``: the class names that the labels 0 and 1 (also ``false``/``true``,
  ``0.0``/``1.0``) become when *every* label of an import is one of those values. Anomaly
  detection maps ``0 → good`` and ``1 → anomalous``, so a CSV with a 0/1 column reads like
  the ``good/`` + defect folders layout (any class other than ``good`` is anomalous).
- ``needs``: the annotation the task trains on; an import that brings none of it gets a
  warning in its report (e.g. class folders into a regression project).
- ``default_format``: the format preselected in the import dialog.
- ``normal_names``: class names that mean "normal" (anomaly detection; the Dataset page tags
  every other class as a defect). The anomaly task reads its ``NORMAL_NAMES`` from here, so
  import, the Dataset page and training agree.

A task without a row gets :data:`DEFAULT` (classification's conventions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from studio.storage.dataset_schemas import Annotations

Need = Literal["label", "targets", "objects", "mask", "any"]


@dataclass(frozen=True)
class TaskImportRules:
    numeric_targets: bool = False
    binary_classes: tuple[str, str] | None = None  # names for (0, 1)
    needs: Need = "label"
    default_format: str = "class_folders"
    normal_names: frozenset[str] = frozenset()

    def class_role(self, name: str) -> str:
        """``"normal"`` / ``"defect"`` for a task with normal classes, else ``""``."""
        if not self.normal_names:
            return ""
        return "normal" if name.strip().lower() in self.normal_names else "defect"


DEFAULT = TaskImportRules()
RULES: dict[str, TaskImportRules] = {
    "classification": DEFAULT,
    "anomaly_detection": TaskImportRules(
        binary_classes=("good", "anomalous"),
        normal_names=frozenset({"good", "normal", "ok", "0", "false", "no"}),
    ),
    "regression": TaskImportRules(numeric_targets=True, needs="targets", default_format="csv"),
    "object_detection": TaskImportRules(needs="objects", default_format="coco"),
    "oriented_object_detection": TaskImportRules(needs="objects", default_format="coco"),
    "instance_segmentation": TaskImportRules(needs="objects", default_format="coco"),
    "semantic_segmentation": TaskImportRules(needs="mask", default_format="coco"),
}

# Spellings of the two binary values (compared after strip + casefold).
_ZERO = frozenset({"0", "0.0", "false"})
_ONE = frozenset({"1", "1.0", "true"})
NEED_TEXT: dict[Need, str] = {
    "label": "a class label",
    "targets": "numeric targets",
    "objects": "objects (boxes or masks)",
    "mask": "a segmentation mask",
    "any": "annotations",
}


def rules_for(task: str) -> TaskImportRules:
    return RULES.get(task, DEFAULT)


def binary_value(name: str) -> int | None:
    """0 or 1 when ``name`` spells a binary label, else None."""
    key = name.strip().casefold()
    return 0 if key in _ZERO else 1 if key in _ONE else None


def binary_renames(class_names: list[str], rules: TaskImportRules) -> list[str] | None:
    """The import's class names after the 0/1 rule, or None when it does not apply.

    Applies only when the task declares ``binary_classes`` and every name is a binary value
    (a mix such as ``0, 1, 2`` keeps its names: then ``0`` is still the normal class).
    """
    if rules.binary_classes is None or not class_names:
        return None
    values = [binary_value(n) for n in class_names]
    if any(v is None for v in values):
        return None
    return [rules.binary_classes[v] for v in values if v is not None]


def has_need(annotations: Annotations, need: Need) -> bool:
    """Does one image's annotation carry what a task with ``need`` trains on?"""
    if need == "label":
        return annotations.label is not None
    if need == "targets":
        return bool(annotations.target)
    if need == "objects":
        return bool(annotations.boxes or annotations.instances or annotations.oriented_boxes)
    if need == "mask":
        return annotations.mask_path is not None or bool(annotations.instances)
    return True
