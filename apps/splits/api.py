"""Splits API: ``/api/splits/{project_id}/`` (list, create), ``…/preview``, ``…/{split_id}``.

Saved splits are immutable: PUT, and a PATCH of anything but ``name``, answer 409
``split_locked``. DELETE answers 409 ``split_in_use`` while an experiment uses the split.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.splits import selectors, services
from apps.splits.serializers import (
    PreviewSerializer,
    SplitDetailSerializer,
    SplitRenameSerializer,
    SplitRequestSerializer,
    SplitSummarySerializer,
    detail_payload,
    preview_payload,
    summary_payload,
)
from studio.errors import Conflict, ValidationFailed

LOCKED_MESSAGE = (
    "Saved splits are locked: their assignments, ratios and seed can't change. "
    'Only the name can be edited (PATCH {"name": …}); make a new split for other settings.'
)


def _locked(fields: list[str]) -> Conflict:
    return Conflict(LOCKED_MESSAGE, code="split_locked", details={"fields": fields})


def _request(request: Request) -> SplitRequestSerializer:
    data = SplitRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data


class SplitPreviewView(APIView):
    @extend_schema(request=SplitRequestSerializer, responses=PreviewSerializer)
    def post(self, request: Request, project_id: str) -> Response:
        """Per-subset and per-class counts (and warnings) these settings give; writes nothing."""
        data = _request(request)
        ratios, seed = data.ratios_model(), data.validated_data["seed"]
        plan = services.split_preview(project_id, ratios, seed)
        return Response(preview_payload(plan, ratios, seed))


class SplitListView(APIView):
    @extend_schema(responses=SplitSummarySerializer(many=True))
    def get(self, request: Request, project_id: str) -> Response:
        """The project's splits, oldest first."""
        return Response([summary_payload(row) for row in selectors.split_list(project_id)])

    @extend_schema(request=SplitRequestSerializer, responses={201: SplitDetailSerializer})
    def post(self, request: Request, project_id: str) -> Response:
        """Make and save a split of the images in the dataset now (it is locked from then on)."""
        data = _request(request)
        split = services.split_create(
            project_id,
            data.ratios_model(),
            data.validated_data["seed"],
            data.validated_data.get("name"),
        )
        body = detail_payload(split, selectors.split_status(split))
        return Response(body, status=status.HTTP_201_CREATED)


class SplitDetailView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "include", str, description='"assignments" adds the image id -> subset map'
            )
        ],
        responses=SplitDetailSerializer,
    )
    def get(self, request: Request, project_id: str, split_id: str) -> Response:
        """Counts, warnings, ``unassigned`` (images imported after the split) and users."""
        split = selectors.split_get(project_id, split_id)
        include = {p.strip() for p in request.query_params.get("include", "").split(",")}
        return Response(
            detail_payload(split, selectors.split_status(split), "assignments" in include)
        )

    @extend_schema(request=SplitRenameSerializer, responses=SplitDetailSerializer)
    def patch(self, request: Request, project_id: str, split_id: str) -> Response:
        """Rename. Any other field answers 409 ``split_locked``: saved splits are immutable."""
        selectors.split_get(project_id, split_id)
        payload = request.data if hasattr(request.data, "keys") else {}
        other = sorted(set(payload.keys()) - {"name"})
        if other:
            raise _locked(other)
        if "name" not in payload:
            raise ValidationFailed("Give a new name", details={"name": ["This field is required."]})
        data = SplitRenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        split = services.split_rename(project_id, split_id, data.validated_data["name"])
        return Response(detail_payload(split, selectors.split_status(split)))

    @extend_schema(request=None, responses={409: None})
    def put(self, request: Request, project_id: str, split_id: str) -> Response:
        """Always 409 ``split_locked``: a saved split cannot be replaced."""
        selectors.split_get(project_id, split_id)
        raise _locked(sorted(request.data.keys()) if hasattr(request.data, "keys") else [])

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: str, split_id: str) -> Response:
        """Delete a split no experiment uses (409 ``split_in_use`` names the experiments)."""
        services.split_delete(project_id, split_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
