"""Project pages (HTMX): list, create, rename, delete, and the per-project section pages."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget
from django_htmx.middleware import HtmxDetails

from apps.core.context import PROJECT_SECTIONS
from apps.projects import selectors, services
from apps.projects.access import Role, requires_role
from apps.projects.cards import with_card_facts
from studio.errors import StudioError
from studio.ml.tasks.registry import TASKS


def _list_context(request: HttpRequest) -> dict[str, object]:
    """Only the projects the user may see (project access: apps/projects/access.py), each
    with its card facts (image count, last experiment, may the user rename/delete it)."""
    projects = with_card_facts(request.user, selectors.project_list(request.user))
    return {"projects": projects, "tasks": list(TASKS.values())}


def project_list(request: HttpRequest) -> HttpResponse:
    return render(request, "projects/list.html", _list_context(request))


def _error_into(target: str, exc: StudioError, request: HttpRequest) -> HttpResponse:
    """Render an error message into ``target`` (HTMX swaps 200s only, so retarget it)."""
    response = render(request, "projects/_error.html", {"message": exc.message})
    return reswap(retarget(response, target), "innerHTML")


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (``request.htmx``)."""

    htmx: HtmxDetails


@require_POST
def project_create(request: HtmxHttpRequest) -> HttpResponse:
    """Create, then open the new project's Dataset page: importing images is the next step
    (an HTMX request gets ``HX-Redirect``, a plain form post a 302)."""
    try:
        project = services.project_create(
            request.POST.get("name", ""),
            request.POST.get("task", ""),
            request.POST.get("description", ""),
            owner=request.user.get_username(),
        )
    except StudioError as exc:
        return _error_into("#create-error", exc, request)
    dataset = reverse("dataset-page", args=[project.id])
    if request.htmx:
        return HttpResponseClientRedirect(dataset)
    return redirect(dataset)


@requires_role(Role.owner)
@require_POST
def project_rename(request: HttpRequest, project_id: str) -> HttpResponse:
    try:
        services.project_update(project_id, name=request.POST.get("name", ""))
    except StudioError as exc:
        return _error_into(f"#rename-error-{project_id}", exc, request)
    card = with_card_facts(request.user, [selectors.project_get(project_id)])[0]
    return render(request, "projects/_card.html", {"p": card})


@requires_role(Role.owner)
@require_POST
def project_delete(request: HttpRequest, project_id: str) -> HttpResponse:
    try:
        services.project_delete(project_id)
    except StudioError as exc:
        return _error_into("#list-error", exc, request)
    return render(request, "projects/_list.html", _list_context(request))


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
