"""Core API: jobs and the task registry."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import selectors, services
from apps.core.serializers import JobSerializer, TaskSerializer
from apps.projects.access import visible_project_ids
from studio.ml.tasks.registry import TASKS


class JobListView(APIView):
    @extend_schema(responses=JobSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Jobs of the projects you are a member of (staff: all), newest first.

        Filter with ``project``, ``status``, ``kind``. Jobs without a project are staff-only.
        """
        qs = selectors.job_list(
            request.query_params.get("project"),
            request.query_params.get("status"),
            request.query_params.get("kind"),
        )
        visible = visible_project_ids(request.user)
        if visible is not None:
            qs = qs.filter(project_id__in=visible)
        return Response(JobSerializer(qs[:500], many=True).data)


class JobDetailView(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, job_id: str) -> Response:
        return Response(JobSerializer(selectors.job_get(job_id)).data)


class JobCancelView(APIView):
    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request: Request, job_id: str) -> Response:
        """Cancel a queued job, or ask a running one to stop after its current step."""
        selectors.job_get(job_id)
        return Response(JobSerializer(services.job_cancel(job_id)).data)


class TaskListView(APIView):
    @extend_schema(responses=TaskSerializer(many=True))
    def get(self, request: Request) -> Response:
        """The seven task types; only ``available`` ones can be chosen for a project.

        Available tasks also carry ``Task.describe()``: models (with parameter counts and
        whether pretrained weights are on this machine), default hyperparameters with help
        text and bounds, augmentations, metrics and the monitored metric.
        """
        from studio.ml.tasks.registry import load_task

        out = []
        for t in TASKS.values():
            entry = {"name": t.type.value, "label": t.label, "description": t.description,
                     "available": t.available}  # fmt: skip
            if t.available:
                entry = {**load_task(t.type.value).describe(), **entry}
            out.append(entry)
        return Response(out)
