"""Project pages (HTMX): list, create, rename, delete, and the per-project section pages."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.context import PROJECT_SECTIONS
from apps.projects import selectors, services
from studio.errors import StudioError
from studio.ml.tasks.registry import TASKS


def _list_context() -> dict[str, object]:
    return {"projects": selectors.project_list(), "tasks": list(TASKS.values())}


def project_list(request: HttpRequest) -> HttpResponse:
    return render(request, "projects/list.html", _list_context())


def _error_into(target: str, exc: StudioError, request: HttpRequest) -> HttpResponse:
    """Render an error message into ``target`` (HTMX swaps 200s only, so retarget it)."""
    response = render(request, "projects/_error.html", {"message": exc.message})
    response["HX-Retarget"] = target
    response["HX-Reswap"] = "innerHTML"
    return response


@require_POST
def project_create(request: HttpRequest) -> HttpResponse:
    try:
        services.project_create(
            request.POST.get("name", ""),
            request.POST.get("task", ""),
            request.POST.get("description", ""),
        )
    except StudioError as exc:
        return _error_into("#create-error", exc, request)
    response = render(request, "projects/_list.html", _list_context())
    response["HX-Trigger"] = "project-created"
    return response


@require_POST
def project_rename(request: HttpRequest, project_id: str) -> HttpResponse:
    try:
        services.project_update(project_id, name=request.POST.get("name", ""))
    except StudioError as exc:
        return _error_into(f"#rename-error-{project_id}", exc, request)
    return render(request, "projects/_card.html", {"p": selectors.project_get(project_id)})


@require_POST
def project_delete(request: HttpRequest, project_id: str) -> HttpResponse:
    try:
        services.project_delete(project_id)
    except StudioError as exc:
        return _error_into("#list-error", exc, request)
    return render(request, "projects/_list.html", _list_context())


def project_home(request: HttpRequest, project_id: str) -> HttpResponse:
    return redirect("project-section", project_id=project_id, section="dataset")


def project_section(request: HttpRequest, project_id: str, section: str) -> HttpResponse:
    """Placeholder for a section whose feature has not arrived yet."""
    labels = dict(PROJECT_SECTIONS)
    if section not in labels:
        raise Http404
    try:
        project = selectors.project_require(project_id)
    except StudioError as exc:
        raise Http404(exc.message) from exc
    return render(
        request,
        "projects/section.html",
        {"project": project, "section": section, "label": labels[section]},
    )
