"""Export API.

- ``/api/export/{project_id}/``: exportable experiments and the formats.
- ``/api/export/{project_id}/{experiment_id}``: GET the exports, POST to start one (202 job).
- ``…/{export_id}``: GET one, DELETE it (204). ``…/{export_id}/download``: the file, as an
  attachment with a server-decided content type and ``nosniff``.
- ``/api/predict/{project_id}/{experiment_id}``: POST a multipart ``image`` → the model's
  answer, shaped by the task's output (top-k classes, anomaly score + verdict, or values).
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.exports import selectors, services
from apps.exports.serializers import (
    TASK_OPTIONS,
    ExportRequestSerializer,
    ExportSerializer,
    ExportStartedSerializer,
    PredictRequestSerializer,
    PredictResponseSerializer,
    export_payload,
    scan_payload,
)
from studio.errors import ValidationFailed
from studio.ml.export import describe_formats
from studio.ml.export.predict import MAX_UPLOAD_BYTES


class ServerDecidesContent(BaseContentNegotiation):
    """The download's type comes from the format, whatever ``Accept`` says (errors as JSON)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0]

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> Any:
        return renderers[0], renderers[0].media_type


class ExportableView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: str) -> Response:
        """Completed experiments with their checkpoints, and the export formats."""
        return Response({
            "experiments": selectors.exportable_experiments(project_id),
            "formats": describe_formats(),
        })  # fmt: skip


class ExportListView(APIView):
    @extend_schema(responses=ExportSerializer(many=True))
    def get(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """The experiment's exports, newest first, each with its validation results."""
        found = selectors.export_scan(project_id, experiment_id)
        return Response([scan_payload(f, project_id, experiment_id) for f in found])

    @extend_schema(request=ExportRequestSerializer, responses={202: ExportStartedSerializer})
    def post(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """Start an export job (format, checkpoint, opset, task options such as an anomaly
        ``threshold``); follow ``events_url`` (SSE)."""
        body = ExportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        options = {k: data[k] for k in TASK_OPTIONS if data.get(k) is not None}
        export, job = services.export_start(
            project_id, experiment_id, data["format"], data["checkpoint"], data.get("opset"),
            options,
        )  # fmt: skip
        return Response(
            {"export_id": export.id, "job_id": job.id, "events_url": f"/api/jobs/{job.id}/events",
             "export": export_payload(export)},
            status=status.HTTP_202_ACCEPTED,
        )  # fmt: skip


class ExportDetailView(APIView):
    @extend_schema(operation_id="export_detail", responses=ExportSerializer)
    def get(
        self, request: Request, project_id: str, experiment_id: str, export_id: str
    ) -> Response:
        """One export: file, size, SHA-256, validation, timings, status/error."""
        return Response(export_payload(selectors.export_get(project_id, experiment_id, export_id)))

    @extend_schema(responses={204: None})
    def delete(
        self, request: Request, project_id: str, experiment_id: str, export_id: str
    ) -> Response:
        """Delete the export and its file (409 ``export_running`` while it runs)."""
        services.export_delete(project_id, experiment_id, export_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportDownloadView(APIView):
    content_negotiation_class = ServerDecidesContent

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(
        self, request: Request, project_id: str, experiment_id: str, export_id: str
    ) -> HttpResponseBase:
        """The exported file as an attachment (``X-Checksum-SHA256`` = the stored hash)."""
        path, export, media_type = selectors.export_file(project_id, experiment_id, export_id)
        response = FileResponse(
            path.open("rb"), as_attachment=True, filename=export.download_name or path.name,
            content_type=media_type,
        )  # fmt: skip
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-cache"
        if export.sha256:
            response["X-Checksum-SHA256"] = export.sha256
            response["ETag"] = f'"{export.sha256}"'
        patch_vary_headers(response, ("Cookie", "Authorization"))
        return response


class PredictView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": PredictRequestSerializer},
        responses=PredictResponseSerializer,
    )
    def post(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """The answer for one uploaded ``image`` (``output_name`` says its shape: top-k
        classes, anomaly score + verdict, or target values), from the newest passing ONNX
        export, else the best checkpoint (``source`` says which answered)."""
        body = PredictRequestSerializer(data=request.data)
        if not body.is_valid():
            if "image" in body.errors:
                raise ValidationFailed(
                    "Upload one image as the multipart field 'image'",
                    code="bad_image", details=body.errors,
                )  # fmt: skip
            raise ValidationFailed("The request is not valid; see details.", details=body.errors)
        upload = body.validated_data["image"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationFailed(
                f"The image is larger than {MAX_UPLOAD_BYTES // 2**20} MB; choose a smaller one",
                code="image_too_large",
            )
        data = upload.read()
        result = services.predict_image(
            project_id,
            experiment_id,
            data,
            body.validated_data["top_k"],
            body.validated_data["source"],
            file_name=upload.name or "the upload",
        )
        return Response(result)
