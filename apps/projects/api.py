"""Projects API: ``/api/projects/``, ``/api/projects/{project_id}/`` and its ``members``.

Access is checked before any view runs (``apps.projects.permissions``): non-members get 404;
renaming, deleting and managing members need the owner role (or staff).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.projects import selectors, services
from apps.projects.access import Role
from apps.projects.serializers import (
    MemberRoleSerializer,
    MemberSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
)


class ProjectListView(APIView):
    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request: Request) -> Response:
        """The projects you are a member of (staff: all); damaged ones carry ``damaged: true``."""
        return Response(ProjectSerializer(selectors.project_list(request.user), many=True).data)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request) -> Response:
        """Create a project; you become its owner."""
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(**data.validated_data, owner=request.user.get_username())
        return Response(
            ProjectSerializer(selectors.project_get(project.id)).data,
            status=status.HTTP_201_CREATED,
        )


class ProjectDetailView(APIView):
    project_role_required = {"PATCH": Role.owner, "PUT": Role.owner, "DELETE": Role.owner}

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


_MEMBER_ERRORS = {
    403: OpenApiResponse(description="Your role is below owner"),
    404: OpenApiResponse(description="No such project (or you are not a member), or no such user"),
}


class MemberListView(APIView):
    @extend_schema(responses={200: MemberSerializer(many=True), **_MEMBER_ERRORS})
    def get(self, request: Request, project_id: str) -> Response:
        """The project's members and their roles (any member may read them)."""
        return Response(MemberSerializer(selectors.member_list(project_id), many=True).data)


class MemberDetailView(APIView):
    project_role_required = {"PUT": Role.owner, "DELETE": Role.owner}

    @extend_schema(
        request=MemberRoleSerializer,
        responses={
            200: MemberSerializer(many=True),
            409: OpenApiResponse(description="Would demote the last owner"),
            **_MEMBER_ERRORS,
        },
    )
    def put(self, request: Request, project_id: str, username: str) -> Response:
        """Add the user with ``role`` (viewer, editor, owner) or change its role (owner only).

        Answers the new member list.
        """
        data = MemberRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.member_set(project_id, username, data.validated_data["role"])
        return Response(MemberSerializer(selectors.member_list(project_id), many=True).data)

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(description="The last owner cannot be removed"),
            **_MEMBER_ERRORS,
        }
    )
    def delete(self, request: Request, project_id: str, username: str) -> Response:
        """Remove the user from the project (owner only); the last owner stays."""
        services.member_remove(project_id, username)
        return Response(status=status.HTTP_204_NO_CONTENT)
