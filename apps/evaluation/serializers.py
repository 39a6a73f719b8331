"""Request shapes (types only: the rules live in ``studio.ml.evaluate.make_config``) and the
response shapes, documented for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.evaluation.selectors import EvaluationState
from studio.ml.evaluation_files import CheckpointInfo


@extend_schema_field(
    {"oneOf": [{"type": "array", "items": {"type": "string", "enum": ["train", "val", "test"]}},
               {"type": "string", "example": "test,val"}]}
)  # fmt: skip
class SubsetsField(serializers.Field):  # type: ignore[type-arg]
    """A list of subsets, or one comma-separated string (``"test,val"``)."""

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, str):
            return [s.strip() for s in data.split(",") if s.strip()]
        if isinstance(data, list) and all(isinstance(s, str) for s in data):
            return data
        raise serializers.ValidationError('A list of subsets, e.g. ["test"] or "test,val".')

    def to_representation(self, value: Any) -> Any:
        return value


class EvaluateRequestSerializer(serializers.Serializer[Any]):
    checkpoint = serializers.CharField(
        required=False, help_text="a file name from …/checkpoints (default: the best one)"
    )
    subsets = SubsetsField(required=False, help_text='default ["test"]')
    batch_size = serializers.IntegerField(required=False, default=64, help_text="1-1024")
    device = serializers.CharField(
        required=False, help_text="cpu or cuda (default: cuda when this machine has one)"
    )


class CheckpointSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    size = serializers.IntegerField(help_text="bytes")
    modified = serializers.DateTimeField()
    best = serializers.BooleanField()
    last = serializers.BooleanField()


class EvaluationSerializer(serializers.Serializer[Any]):
    """Status of an experiment's evaluation; ``aggregate`` once ``completed``."""

    project_id = serializers.CharField()
    experiment_id = serializers.CharField()
    experiment = serializers.DictField()
    status = serializers.ChoiceField(
        choices=["none", "queued", "running", "completed", "failed", "cancelled", "interrupted"]
    )
    config = serializers.DictField(allow_null=True)
    job_id = serializers.CharField(allow_null=True)
    events_url = serializers.CharField(allow_null=True, help_text="SSE progress of the job")
    created_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    checkpoint = serializers.DictField(allow_null=True)
    subsets = serializers.DictField(child=serializers.IntegerField())
    skipped = serializers.IntegerField()
    task = serializers.CharField(help_text="the experiment's task, e.g. classification")
    accuracy = serializers.FloatField(allow_null=True, help_text="class tasks, once completed")
    headline = serializers.CharField(
        allow_blank=True, help_text="the metric a list shows: accuracy, auroc, mae…"
    )
    headline_value = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    aggregate = serializers.DictField(allow_null=True, help_text="see docs/evaluation.md")


class StartedSerializer(serializers.Serializer[Any]):
    job_id = serializers.CharField()
    events_url = serializers.CharField()
    evaluation = EvaluationSerializer()


class TopKSerializer(serializers.Serializer[Any]):
    class_id = serializers.IntegerField()
    class_name = serializers.CharField()
    probability = serializers.FloatField()


class ResultSerializer(serializers.Serializer[Any]):
    """One image; each task fills its own fields, the others are null / empty."""

    image_id = serializers.CharField()
    file_name = serializers.CharField()
    subset = serializers.CharField()
    true_class_id = serializers.IntegerField(allow_null=True, help_text="anomaly: 1 = anomalous")
    true_class = serializers.CharField(allow_blank=True)
    pred_class_id = serializers.IntegerField(allow_null=True)
    pred_class = serializers.CharField(allow_blank=True)
    confidence = serializers.FloatField()
    correct = serializers.BooleanField(allow_null=True)
    top_k = TopKSerializer(many=True)
    score = serializers.FloatField(allow_null=True, help_text="anomaly score in [0, 1]")
    targets = serializers.ListField(child=serializers.FloatField(), allow_null=True,
                                    help_text="regression: actual values, target order")  # fmt: skip
    predictions = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    error = serializers.FloatField(allow_null=True, help_text="regression: mean absolute error")
    thumbnail_url = serializers.CharField()
    image_url = serializers.CharField()


class ResultPageSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = ResultSerializer(many=True)


def experiment_payload(state: EvaluationState) -> dict[str, Any]:
    e = state.experiment
    return {
        "id": e.id, "name": e.name, "status": e.status.value, "task": e.task,
        "model": e.config.get("model", ""), "split_id": e.split_id,
        "best_metric": e.best_metric.model_dump() if e.best_metric else None,
    }  # fmt: skip


def evaluation_payload(state: EvaluationState) -> dict[str, Any]:
    r = state.record
    e = state.experiment
    if r is None:
        return {
            "project_id": e.project_id, "experiment_id": e.id, "experiment": experiment_payload(state),
            "status": "none", "config": None, "job_id": None, "events_url": None,
            "created_at": None, "started_at": None, "finished_at": None, "checkpoint": None,
            "subsets": {}, "skipped": 0, "task": e.task, "accuracy": None, "headline": "",
            "headline_value": None, "error": "", "aggregate": None,
        }  # fmt: skip
    return {
        "project_id": r.project_id, "experiment_id": r.experiment_id,
        "experiment": experiment_payload(state), "status": r.status.value,
        "config": r.config.model_dump(mode="json"), "job_id": r.job_id,
        "events_url": f"/api/jobs/{r.job_id}/events" if r.job_id else None,
        "created_at": r.created_at, "started_at": r.started_at, "finished_at": r.finished_at,
        "checkpoint": r.checkpoint.model_dump(mode="json") if r.checkpoint else None,
        "subsets": r.subsets, "skipped": r.skipped, "task": r.task or e.task,
        "accuracy": r.accuracy, "headline": r.headline, "headline_value": r.headline_value,
        "error": r.error,
        "aggregate": state.aggregate.model_dump(mode="json") if state.aggregate else None,
    }  # fmt: skip


def checkpoint_payload(info: CheckpointInfo) -> dict[str, Any]:
    return info.to_dict()
