"""Datasets API under ``/api/datasets/{project_id}/``.

Image bytes are served by DRF views too, so authentication (session or token) and
the JSON error body are the same as everywhere; content negotiation is ignored
for them (the content type comes from the stored format, never from the client).
Uploads are streamed by :class:`apps.datasets.uploads.WorkspaceUploadHandler`
into the dataset's ``.uploads/<import_id>/``, installed before anything reads the body.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.datasets import conf, selectors, serializers, services
from apps.datasets.uploads import install_upload_handler
from studio.errors import ValidationFailed

CACHE_CONTROL = "private, max-age=86400"


class IgnoreClientContentNegotiation(BaseContentNegotiation):
    """File routes answer with the stored format whatever ``Accept`` says (errors as JSON)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0]

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> Any:
        return renderers[0], renderers[0].media_type


class DatasetSummaryView(APIView):
    @extend_schema(responses=serializers.SummarySerializer)
    def get(self, request: Request, project_id: str) -> Response:
        """Image count, classes with counts, regression target statistics, and every import
        with its report (issues: first 100)."""
        dataset = selectors.dataset_get(project_id)
        counts = selectors.class_counts(project_id)
        imports = selectors.import_reports(project_id)
        stats = selectors.target_stats(project_id)
        return Response(serializers.summary(dataset, counts, imports, stats))


LIST_PARAMETERS = [
    OpenApiParameter("page", int, description="1-based page number"),
    OpenApiParameter("page_size", int, description=f"1-{selectors.MAX_PAGE_SIZE}, default {selectors.DEFAULT_PAGE_SIZE}"),
    OpenApiParameter("class", str, description="class id, class name, or `none` for unlabelled images"),
    OpenApiParameter("q", str, description="part of the file name (case-insensitive)"),
    OpenApiParameter("sort", str, enum=["name", "-name", "date", "-date", "size", "-size", "target", "-target"],
                     description="`target` sorts by the first regression target; images without one come last"),
    OpenApiParameter("split", str, description="split id (with subset; once splits exist)"),
    OpenApiParameter("subset", str, enum=["train", "val", "test"]),
]  # fmt: skip


class ImageListView(APIView):
    @extend_schema(parameters=LIST_PARAMETERS, responses=serializers.ImagePageSerializer)
    def get(self, request: Request, project_id: str) -> Response:
        """A page of images; unknown parameters or sort fields are a 400."""
        params = {k: request.query_params.get(k, "") for k in request.query_params}
        page = selectors.image_page(project_id, params)
        return Response(serializers.page_body(project_id, page, params))


class ImageDetailView(APIView):
    @extend_schema(operation_id="datasets_image_detail", responses={200: dict})
    def get(self, request: Request, project_id: str, image_id: str) -> Response:
        """One image's metadata and annotations (class ids, boxes, instances, targets)."""
        record = selectors.image_get(project_id, image_id)
        dataset = selectors.dataset_get(project_id)
        return Response(serializers.image_detail(project_id, record, dataset))


class ImageBytesView(APIView):
    """``…/thumbnail`` (JPEG) and ``…/file`` (the stored original)."""

    kind = "file"
    content_negotiation_class = IgnoreClientContentNegotiation

    @extend_schema(responses={(200, "image/*"): bytes, 304: None})
    def get(self, request: Request, project_id: str, image_id: str) -> HttpResponseBase:
        served = selectors.image_file(project_id, image_id, self.kind)
        if served.etag in _etags(request.headers.get("If-None-Match", "")):
            response: HttpResponseBase = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = FileResponse(
                served.path.open("rb"), content_type=served.content_type,
                filename=served.filename if self.kind == "file" else "", as_attachment=False,
            )  # fmt: skip
        response["ETag"] = served.etag
        response["Cache-Control"] = CACHE_CONTROL
        response["X-Content-Type-Options"] = "nosniff"
        patch_vary_headers(response, ("Cookie", "Authorization"))
        return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class ImageFileView(ImageBytesView):
    kind = "file"


class ImageThumbnailView(ImageBytesView):
    kind = "thumbnail"


class ImportView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request=serializers.ImportRequestSerializer,
        responses={202: serializers.ImportStartedSerializer},
    )
    def post(self, request: Request, project_id: str) -> Response:
        """Start an import job. JSON ``{"source": "folder", "path", "format", "annotations"?}``,
        or multipart with ``source=zip`` + one ``file``, or ``source=files`` + ``files`` (+ ``label``).

        ``source=folder`` needs staff or the ``datasets.import_server_folder`` permission (else
        403) and a folder inside the import roots (else 400 ``path_not_allowed``, whose
        ``details.roots`` lists them)."""
        import_id = getattr(request._request, "studio_import_id", None) or services.new_import_id()
        try:
            body = serializers.ImportRequestSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            uploads: list[services.Upload] = getattr(request._request, "studio_uploads", list)()
            start = services.ImportStart(
                project_id=project_id, format=body.validated_data["format"],
                source=body.validated_data["source"], path=body.validated_data["path"],
                annotations=body.validated_data["annotations"], label=body.validated_data["label"],
                uploads=uploads, relative_paths=list(request.data.getlist("relative_path"))
                if hasattr(request.data, "getlist") else [],
                may_use_server_folders=conf.may_import_server_folders(request.user),
            )  # fmt: skip
            job_id, import_id = services.import_start(start, import_id)
        except BaseException:
            services.discard_upload(project_id, import_id)
            raise
        return Response(
            {"job_id": job_id, "import_id": import_id, "events_url": f"/api/jobs/{job_id}/events"},
            status=status.HTTP_202_ACCEPTED,
        )

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        """Installs the workspace upload handler before DRF (or its CSRF check) reads the body."""
        install_upload_handler(request, kwargs.get("project_id", ""))
        return super().initialize_request(request, *args, **kwargs)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        project_id = kwargs.get("project_id", "")
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)
        import_id = getattr(request, "studio_import_id", None)
        if import_id and response.status_code != status.HTTP_202_ACCEPTED:
            services.discard_upload(project_id, import_id)  # refused before a job took it over
        return response

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, TooManyFilesSent):
            exc = ValidationFailed(
                "Too many files in one upload; put them in a zip", code="too_many_files"
            )
        elif isinstance(exc, TooManyFieldsSent | RequestDataTooBig):
            exc = ValidationFailed(
                "The form has too many fields or is too large", code="bad_request"
            )
        return super().handle_exception(exc)


class ImportListView(APIView):
    @extend_schema(responses=serializers.ReportSerializer(many=True))
    def get(self, request: Request, project_id: str) -> Response:
        """Every import of the dataset, newest first, with its report (issues: first 100)."""
        return Response(selectors.import_reports(project_id))


class ImportDetailView(APIView):
    @extend_schema(responses=serializers.ReportSerializer)
    def get(self, request: Request, project_id: str, import_id: str) -> Response:
        """One import report with every issue."""
        rows = {row.id: row for row in selectors.import_list(project_id)}  # (reconciles first)
        report = selectors.import_report(project_id, import_id)
        data = report.model_dump(mode="json")
        data["job_id"] = (
            report.job_id or (rows[import_id].job_id if import_id in rows else None) or None
        )
        data["issue_count"] = len(report.issues)
        return Response(data)
