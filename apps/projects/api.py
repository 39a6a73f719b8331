"""Projects API: ``/api/projects/`` and ``/api/projects/{project_id}/``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.projects import selectors, services
from apps.projects.serializers import (
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
)


class ProjectListView(APIView):
    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request: Request) -> Response:
        """All projects; damaged ones are listed with ``damaged: true`` and the reason."""
        return Response(ProjectSerializer(selectors.project_list(), many=True).data)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request) -> Response:
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(**data.validated_data)
        return Response(
            ProjectSerializer(selectors.project_get(project.id)).data,
            status=status.HTTP_201_CREATED,
        )


class ProjectDetailView(APIView):
    @extend_schema(responses=ProjectSerializer)
    def get(self, request: Request, project_id: str) -> Response:
        return Response(ProjectSerializer(selectors.project_get(project_id)).data)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def patch(self, request: Request, project_id: str) -> Response:
        """Rename (``name``) or re-describe; the task cannot change."""
        selectors.project_require(project_id)
        data = ProjectUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.project_update(project_id, **data.validated_data)
        return Response(ProjectSerializer(selectors.project_get(project_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: str) -> Response:
        """Moves the project to the workspace trash (``manage.py restore_project`` brings it back)."""
        selectors.project_get(project_id)
        services.project_delete(project_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
