"""The pages' project access check: every non-API view whose URL has a ``project_id``.

GET/HEAD need viewer, other methods editor; a view decorated with
``apps.projects.access.requires_role`` needs that role. A non-member gets the ordinary 404
page (as for a project that does not exist), a member with too low a role the error page
with 403. The API (``/api/``) is checked by DRF's ``ProjectRolePermission`` and the SSE views.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin

from apps.projects.access import ATTRIBUTE, needed_role, require_project_role
from studio.errors import NotFound, StudioError


class ProjectAccessMiddleware(MiddlewareMixin):
    """Must come after the authentication middleware (it reads ``request.user``)."""

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if request.path_info.startswith("/api/") or "project_id" not in view_kwargs:
            return None
        need = needed_role(request.method or "GET", getattr(view_func, ATTRIBUTE, None))
        try:
            require_project_role(request.user, view_kwargs["project_id"], need)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except StudioError as exc:
            return render(
                request,
                "core/error.html",
                {"title": "Not allowed", "status": exc.status, "message": exc.message},
                status=exc.status,
            )
        return None
