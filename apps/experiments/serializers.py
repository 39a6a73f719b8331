"""Request shapes (types only: the training settings are validated by ``studio.ml.hparams``)
and response shapes, documented for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from apps.experiments import run_warnings, selectors
from apps.experiments.models import Experiment
from studio.errors import StudioError
from studio.ml.tasks.registry import load_task
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


class RunWarningSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="chance_level")
    message = serializers.CharField()
    causes = serializers.ListField(child=serializers.CharField(), help_text="Likely reasons")
    metric = serializers.CharField()
    value = serializers.FloatField()
    chance = serializers.FloatField()
    epochs = serializers.IntegerField()


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
    warnings = RunWarningSerializer(
        many=True, help_text="Problems seen in the finished epochs (e.g. chance_level)"
    )


class EstimateSerializer(serializers.Serializer[Any]):
    """``GET /api/experiments/{pid}/estimate``: the time per epoch expected on this machine."""

    model = serializers.CharField()
    image_size = serializers.IntegerField()
    batch_size = serializers.IntegerField()
    device = serializers.CharField(help_text="cpu or cuda: where the worker trains")
    train_images = serializers.IntegerField()
    val_images = serializers.IntegerField()
    step_s = serializers.FloatField(help_text="Seconds per training step (one batch)")
    epoch_s = serializers.FloatField(help_text="Seconds per epoch: training + validation")
    epochs = serializers.IntegerField(allow_null=True)
    total_s = serializers.FloatField(allow_null=True, help_text="epoch_s * epochs, if given")
    method = serializers.CharField(
        help_text="measured (timed at these settings) or formula (calibrated GFLOPs)"
    )
    label = serializers.CharField(help_text="e.g. ≈ 4 s per epoch on this machine (estimate)")


class EstimateQuerySerializer(serializers.Serializer[Any]):
    model = serializers.CharField(help_text="A catalog model key of the project's task")
    image_size = serializers.IntegerField(min_value=16, max_value=2048)
    batch_size = serializers.IntegerField(min_value=1, max_value=1024)
    split = serializers.CharField(
        required=False, help_text="Split whose train/val counts to use (default: the newest)"
    )
    epochs = serializers.IntegerField(required=False, min_value=1, max_value=1000)


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
        warnings=experiment_warnings(exp),
    )  # fmt: skip
    return data


def experiment_warnings(exp: ExperimentFile) -> list[dict[str, Any]]:
    """``run_warnings`` of the experiment's finished epochs (none before MIN_EPOCHS)."""
    if exp.epochs_done < run_warnings.MIN_EPOCHS:
        return []
    try:
        chance = load_task(exp.task).chance_level(selectors.class_counts(exp.project_id))
        rows = selectors.experiment_metrics_rows(exp)
    except StudioError:  # a task this version cannot load, an unreadable metrics file
        return []
    return run_warnings.run_warnings(rows, chance, exp.config)
