"""Request shapes (types only: the training settings are validated by ``studio.ml.hparams``)
and response shapes, documented for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from apps.experiments import selectors
from apps.experiments.models import Experiment
from studio.storage.experiment_schemas import ExperimentFile


class ExperimentCreateSerializer(serializers.Serializer[Any]):
    """``config`` holds overrides of the task's defaults (see ``GET /api/tasks/``)."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    split_id = serializers.CharField(help_text="A saved split of this project")
    config = serializers.DictField(
        required=False, help_text='e.g. {"model": "resnet18", "epochs": 5}'
    )
    start = serializers.BooleanField(
        required=False, default=False, help_text="Queue the training right away"
    )


class MetricValueSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    value = serializers.FloatField()
    epoch = serializers.IntegerField(allow_null=True)


class ExperimentSummarySerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    project_id = serializers.CharField()
    name = serializers.CharField()
    task = serializers.CharField()
    split_id = serializers.CharField()
    model = serializers.CharField()
    status = serializers.CharField(
        help_text="draft, queued, running, completed, stopped, failed or interrupted"
    )
    epochs = serializers.IntegerField()
    epochs_done = serializers.IntegerField()
    best_metric = MetricValueSerializer(allow_null=True)
    final_metrics = serializers.DictField(child=serializers.FloatField())
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    damaged = serializers.BooleanField()
    damage_reason = serializers.CharField(allow_blank=True)


class JobStateSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    status = serializers.CharField()
    progress = serializers.DictField()
    message = serializers.CharField(allow_blank=True)


class ExperimentSerializer(ExperimentSummarySerializer):
    config = serializers.DictField(help_text="The validated training settings")
    job_id = serializers.CharField(allow_null=True)
    jobs = serializers.ListField(child=serializers.CharField(), help_text="Every run, oldest first")
    job = JobStateSerializer(allow_null=True, help_text="The current (or last) run's job")
    resumable = serializers.BooleanField()
    stop_requested = serializers.BooleanField()
    started_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    best_checkpoint = serializers.CharField(allow_null=True)
    last_checkpoint = serializers.CharField(allow_null=True)
    events_url = serializers.CharField(help_text="SSE stream of every run of this experiment")
    metrics_url = serializers.CharField()


def summary_payload(row: Experiment) -> dict[str, Any]:
    best = None
    if row.best_metric_name and row.best_metric_value is not None:
        best = {
            "name": row.best_metric_name,
            "value": row.best_metric_value,
            "epoch": row.best_epoch,
        }
    return {
        "id": row.id, "project_id": row.project_id, "name": row.name, "task": row.task,
        "split_id": row.split_id, "model": row.model, "status": row.status, "epochs": row.epochs,
        "epochs_done": row.epochs_done, "best_metric": best, "final_metrics": row.final_metrics,
        "error": row.error, "created_at": row.created_at, "finished_at": row.finished_at,
        "damaged": row.damaged, "damage_reason": row.damage_reason,
    }  # fmt: skip


def detail_payload(exp: ExperimentFile) -> dict[str, Any]:
    data = exp.model_dump(mode="json", exclude={"schema_version", "lease_owner"})
    job = selectors.experiment_job(exp)
    args = [exp.project_id, exp.id]
    data.update(
        model=str(exp.config.get("model", "")),
        epochs=int(exp.config.get("epochs", 0) or 0),
        resumable=exp.status.resumable,
        stop_requested=selectors.stop_requested(exp),
        jobs=[r.job_id for r in selectors.experiment_runs(exp)],
        job=None if job is None else {
            "id": job.id, "status": job.status.value,
            "progress": job.progress.model_dump(), "message": job.message,
        },
        damaged=False, damage_reason="",
        events_url=reverse("api-experiment-events", args=args),
        metrics_url=reverse("api-experiment-metrics", args=args),
    )  # fmt: skip
    return data
