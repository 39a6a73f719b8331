"""The API's project access check, applied to every DRF view (``DEFAULT_PERMISSION_CLASSES``).

A view under a URL with ``project_id`` (or ``job_id``, checked against the job's project)
needs viewer for safe methods and editor otherwise; a view raises that with the class
attribute ``project_role_required`` (one :class:`~apps.projects.access.Role`, or a dict
method → role). Refusals raise domain errors, which the API's exception handler turns into
404 / 403 with the usual JSON body. Views without those kwargs are not concerned.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.projects.access import ATTRIBUTE, needed_role, require_job_role, require_project_role


class ProjectRolePermission(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        kwargs = getattr(view, "kwargs", None) or {}
        need = needed_role(request.method or "GET", getattr(view, ATTRIBUTE, None))
        if "project_id" in kwargs:
            require_project_role(request.user, kwargs["project_id"], need)
        elif "job_id" in kwargs:
            require_job_role(request.user, kwargs["job_id"], need)
        return True
