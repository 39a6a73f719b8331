"""The task registry: the one place that lists Studio's task types.

Adding a task = one module in ``studio/ml/tasks/`` plus one line in ``TASKS``
(``"module:Class"``, imported lazily so listing tasks never imports torch).
A task whose line has no module is shown but cannot be chosen yet.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from studio.errors import ValidationFailed


class TaskType(StrEnum):
    classification = "classification"
    object_detection = "object_detection"
    semantic_segmentation = "semantic_segmentation"
    instance_segmentation = "instance_segmentation"
    anomaly_detection = "anomaly_detection"
    regression = "regression"
    oriented_object_detection = "oriented_object_detection"


@dataclass(frozen=True)
class TaskInfo:
    type: TaskType
    label: str
    description: str
    implementation: str | None = None  # "package.module:Class", None = not built yet

    @property
    def available(self) -> bool:
        return self.implementation is not None


TASKS: dict[TaskType, TaskInfo] = {
    info.type: info
    for info in (
        TaskInfo(
            TaskType.classification,
            "Classification",
            "One label per image.",
            "studio.ml.tasks.classification:ClassificationTask",
        ),
        TaskInfo(TaskType.object_detection, "Object detection", "Boxes around objects."),
        TaskInfo(TaskType.semantic_segmentation, "Semantic segmentation", "A class per pixel."),
        TaskInfo(TaskType.instance_segmentation, "Instance segmentation", "A mask per object."),
        TaskInfo(
            TaskType.anomaly_detection,
            "Anomaly detection",
            "Good vs. defective images.",
            "studio.ml.tasks.anomaly:AnomalyDetectionTask",
        ),
        TaskInfo(
            TaskType.regression,
            "Regression",
            "One or more numbers per image.",
            "studio.ml.tasks.regression:RegressionTask",
        ),
        TaskInfo(TaskType.oriented_object_detection, "Oriented detection", "Rotated boxes."),
    )
}


def task_info(name: str) -> TaskInfo:
    try:
        return TASKS[TaskType(name)]
    except ValueError:
        raise ValidationFailed(
            f"Unknown task {name!r}",
            details={"task": [f"Choose one of: {', '.join(t.value for t in TaskType)}"]},
        ) from None


def require_available(name: str) -> TaskInfo:
    """The task info, or a validation error if the task cannot be chosen yet."""
    info = task_info(name)
    if not info.available:
        raise ValidationFailed(
            f"The {info.label} task is not available yet",
            code="task_unavailable",
            details={"task": [f"{info.label} is not implemented in this version"]},
        )
    return info


def load_task(name: str) -> Any:
    """Instantiate the task's implementation class (imports its module on first use)."""
    info = require_available(name)
    assert info.implementation is not None
    module, _, attr = info.implementation.partition(":")
    return getattr(importlib.import_module(module), attr)()
