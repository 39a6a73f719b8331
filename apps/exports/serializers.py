"""Request shapes (type checks only: the rules live in ``studio.ml.export``) and the
response payloads, documented for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from studio.ml.export.base import OPSET_DEFAULT, OUTPUT_NAME
from studio.ml.export.outputs import kind_of
from studio.ml.export.store import ExportOnDisk
from studio.storage.export_schemas import ExportFile

# task-specific export options the API passes on (the task validates them; a task that does
# not take one refuses it with ``unknown_option``)
TASK_OPTIONS = ("threshold",)


class ExportRequestSerializer(serializers.Serializer[Any]):
    format = serializers.CharField(default="onnx", help_text="onnx or torchscript")
    checkpoint = serializers.CharField(default="best.ckpt", help_text="best.ckpt or last.ckpt")
    opset = serializers.JSONField(
        required=False, default=OPSET_DEFAULT, help_text="ONNX opset, 13-23 (default 17)"
    )
    threshold = serializers.JSONField(
        required=False, allow_null=True,
        help_text="Anomaly detection only: the threshold (0-1) stored in the file; default: "
        "the threshold the evaluation of this checkpoint chose, else 0.5",
    )  # fmt: skip


class ExportStartedSerializer(serializers.Serializer[Any]):
    export_id = serializers.CharField()
    job_id = serializers.CharField()
    events_url = serializers.CharField()
    export = serializers.DictField()


class ExportSerializer(serializers.Serializer[Any]):
    """``export.json`` plus ``download_url``; ``validation`` holds numeric + parity results."""

    id = serializers.CharField()
    format = serializers.CharField()
    status = serializers.CharField()
    checkpoint = serializers.CharField()
    opset = serializers.IntegerField(allow_null=True)
    size = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    validation = serializers.DictField(allow_null=True)
    download_url = serializers.CharField(allow_null=True)
    damaged = serializers.BooleanField()


class PredictRequestSerializer(serializers.Serializer[Any]):
    image = serializers.FileField(help_text="The image (JPEG, PNG, BMP, GIF, TIFF, WebP)")
    top_k = serializers.IntegerField(required=False, default=5, min_value=1, max_value=100)
    source = serializers.ChoiceField(
        choices=["auto", "onnx", "checkpoint"], required=False, default="auto",
        help_text="auto = the newest passing ONNX export, else the best checkpoint",
    )  # fmt: skip


class PredictionSerializer(serializers.Serializer[Any]):
    class_id = serializers.IntegerField()
    class_name = serializers.CharField()
    probability = serializers.FloatField()


class ValueSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    value = serializers.FloatField(help_text="in the target's original units")


class PredictResponseSerializer(serializers.Serializer[Any]):
    """``output_name`` says which fields the answer has: ``logits`` → ``predictions`` +
    ``top_k``; ``score`` → ``score``, ``threshold``, ``threshold_source``, ``anomalous``,
    ``verdict``; ``values`` → ``values``."""

    source = serializers.ChoiceField(choices=["onnx", "checkpoint"])
    export_id = serializers.CharField(allow_null=True)
    checkpoint = serializers.CharField()
    model = serializers.CharField()
    output_name = serializers.ChoiceField(choices=["logits", "score", "values"])
    image_size = serializers.IntegerField()
    inference_ms = serializers.FloatField()
    top_k = serializers.IntegerField(required=False)
    predictions = PredictionSerializer(many=True, required=False)
    score = serializers.FloatField(required=False, help_text="anomaly score, 0-1")
    threshold = serializers.FloatField(required=False)
    threshold_source = serializers.CharField(
        required=False, help_text="option, evaluation or default"
    )
    anomalous = serializers.BooleanField(required=False)
    verdict = serializers.ChoiceField(choices=["anomalous", "good"], required=False)
    values = ValueSerializer(many=True, required=False)


def export_payload(export: ExportFile) -> dict[str, Any]:
    """``export.json`` plus ``damaged``, ``download_url`` and, from the output's kind,
    ``agreement_label`` (what parity compared) and ``has_accuracy``."""
    data: dict[str, Any] = export.model_dump(mode="json")
    kind = kind_of(export.output_name or OUTPUT_NAME)
    data["agreement_label"] = kind.agreement_label if kind else "same prediction"
    data["has_accuracy"] = bool(kind and kind.labelled)
    data["damaged"] = False
    data["download_url"] = (
        reverse("api-export-download", args=[export.project_id, export.experiment_id, export.id])
        if export.status == "completed" and export.file
        else None
    )
    return data


def scan_payload(found: ExportOnDisk, project_id: str, experiment_id: str) -> dict[str, Any]:
    if found.export is not None:
        return export_payload(found.export)
    return {"id": found.id, "project_id": project_id, "experiment_id": experiment_id,
            "damaged": True, "damage_reason": found.damage, "status": "damaged",
            "validation": None, "download_url": None}  # fmt: skip
