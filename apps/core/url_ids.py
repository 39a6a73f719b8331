"""Middleware: an identifier in the URL that is not a Studio id is a 404 before any view runs.

Every route captures ids as ``<str:…_id>``; a view that put such a value into a header
(``HX-Retarget: #rename-error-<id>``) or a path before checking it could be fed a CR/LF or
``..``. Checking every ``*_id`` keyword against ``check_id`` here means no view ever sees one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

from apps.core.errors import error_response
from studio.errors import StudioError
from studio.storage.paths import check_id


class UrlIdMiddleware(MiddlewareMixin):
    """404 (JSON under ``/api/``) for a URL keyword ending in ``_id`` that fails ``check_id``."""

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        for name, value in view_kwargs.items():
            if not name.endswith("_id") or not isinstance(value, str):
                continue
            try:
                check_id(value, name)
            except StudioError as exc:
                if request.path_info.startswith("/api/"):
                    # never echo the value: it may hold control characters
                    return error_response("not_found", f"No such {name.removesuffix('_id')}", 404)
                raise Http404(exc.message) from exc
        return None
