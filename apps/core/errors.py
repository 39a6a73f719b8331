"""One error body everywhere in the API: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.html import escape
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

from studio.errors import StudioError

log = logging.getLogger(__name__)

BROKER_MESSAGE = (
    "The job queue (Redis) is not reachable; Studio restarts it on its own — "
    "try again in a few seconds."
)

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "parse_error",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "validation_error",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(code: str, message: str, status_code: int, details: Any = None) -> JsonResponse:
    """The error body for plain Django views (SSE, file routes, 404/500 under /api/)."""
    return JsonResponse(error_body(code, message, details), status=status_code)


def studio_error_response(exc: StudioError) -> JsonResponse:
    return error_response(exc.code, exc.message, exc.status, exc.details)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: domain errors and DRF errors share the body, always as JSON."""
    request = context.get("request")
    if request is not None:  # e.g. the OpenAPI view would render the error as YAML
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = "application/json"
    if isinstance(exc, StudioError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):  # the broker died mid-request
        log.warning("Redis is unavailable: %s", exc)
        return Response(
            error_body("broker_unavailable", BROKER_MESSAGE, {"retry_after": 5}),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    refused = _request_error(exc)
    if refused is not None:
        return Response(error_body(*refused[:2]), status=refused[2])
    response = exception_handler(exc, context)
    if response is None:
        log.exception("Unhandled API error", exc_info=exc)
        return Response(
            error_body("server_error", "Something went wrong on the server; see the server log."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        details = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        message = "The request is not valid; see details."
        response.data = error_body(code, message, details)
    else:
        detail = (
            response.data.get("detail", str(exc)) if isinstance(response.data, dict) else str(exc)
        )
        response.data = error_body(code, str(detail))
    return response


def _request_error(exc: BaseException | None) -> tuple[str, str, int] | None:
    """(code, message, status) for a request Django or the parsers refused to read."""
    if isinstance(exc, RequestDataTooBig):
        return (
            "request_too_large",
            "The request body is larger than the limit for this address.",
            413,
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return "too_many_fields", "The request has too many form fields or files.", 400
    if isinstance(exc, RecursionError):  # the JSON parser on a body nested 100,000 deep
        return "parse_error", "The request body is nested too deeply to parse.", 400
    if isinstance(exc, DisallowedHost):
        return "disallowed_host", "The Host header names a host this server does not serve.", 400
    if isinstance(exc, MultiPartParserError):
        return "parse_error", f"Multipart form parse error - {exc}", 400
    return None


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request Django refused (bad Host, unreadable or oversized body, …).

    JSON under ``/api/``; elsewhere a plain page that needs nothing from the request (the
    Host it carries may be the problem).
    """
    code, message, status_code = _request_error(exception) or (
        "bad_request",
        "The request could not be understood.",
        400,
    )
    if request.path.startswith("/api/"):
        return error_response(code, message, status_code)
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Bad request</title>"
        f"<h1>{status_code} · Bad request</h1><p>{escape(message)}</p></html>"
    )
    return HttpResponse(page, status=status_code)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return error_response("not_found", f"No API route {request.path}", 404)
    return render(request, "core/error.html", {"title": "Not found", "status": 404}, status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return error_response("server_error", "Something went wrong on the server.", 500)
    return render(request, "core/error.html", {"title": "Server error", "status": 500}, status=500)
