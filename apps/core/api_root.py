"""``GET /api/``: every API endpoint by route name, as an absolute URL template."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

_CONVERTER_RE = re.compile(r"<(?:\w+:)?(\w+)>")


def _walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and entry.name:
            yield entry.name, route


def api_routes() -> dict[str, str]:
    """Route name → path template (``/api/projects/{project_id}/``), in URL-conf order."""
    routes: dict[str, str] = {}
    for name, route in _walk(get_resolver().url_patterns, "/"):
        if route.startswith("/api/") and name != "api-root":
            routes.setdefault(name, _CONVERTER_RE.sub(r"{\1}", route))
    return routes


class ApiRootView(APIView):
    """Index of the API: follow ``endpoints``; ``schema`` is OpenAPI, ``docs`` Swagger UI."""

    @extend_schema(
        summary="API index",
        responses={
            200: OpenApiResponse(
                inline_serializer(
                    "ApiRoot",
                    {
                        "endpoints": serializers.DictField(
                            child=serializers.CharField(),
                            help_text="route name → absolute URL template, e.g. "
                            "`http://host/api/projects/{project_id}/`",
                        ),
                        "schema": serializers.URLField(),
                        "docs": serializers.URLField(),
                    },
                )
            )
        },
    )
    def get(self, request: Request) -> Response:
        routes = api_routes()
        # Joined by hand: build_absolute_uri() would percent-encode the {braces}.
        origin = request.build_absolute_uri("/").rstrip("/")
        endpoints = {name: origin + path for name, path in routes.items()}
        return Response(
            {
                "endpoints": endpoints,
                "schema": endpoints["api-schema"],
                "docs": endpoints["api-docs"],
            }
        )
