"""The Splits page (HTMX + Alpine): saved splits, the selected one's locked summary, and
the new-split form whose live preview calls ``POST /api/splits/{pid}/preview``."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from apps.core.workspace import ws
from apps.projects import selectors as project_selectors
from apps.splits import selectors, services
from apps.splits.serializers import detail_payload
from studio.datasets import store as dataset_store
from studio.errors import StudioError
from studio.splits.planner import strategy_for

STRATEGY_LABELS = {
    "label": "Stratified by class",
    "class_presence": "Iterative stratification by class presence",
    "target_bins": "Stratified by target quantile bins",
    "labelled": "Stratified by labelled / unlabelled",
}
# What one row of a split's table is, per strategy (regression rows are target ranges).
GROUP_HEADERS = {
    "label": "Class",
    "class_presence": "Class",
    "target_bins": "Target range",
    "labelled": "Images",
}


def _page_context(request: HttpRequest, project_id: str) -> dict[str, Any]:
    try:
        project = project_selectors.project_require(project_id)
        splits = list(selectors.split_list(project_id))
    except StudioError as exc:
        raise Http404(exc.message) from exc
    try:
        image_count = dataset_store.load_dataset(ws(), project_id).image_count
    except StudioError:
        image_count = 0
    ctx: dict[str, Any] = {
        "project": project, "section": "splits", "splits": splits, "image_count": image_count,
        "strategy_label": STRATEGY_LABELS[strategy_for(project.task)],
        "group_header": GROUP_HEADERS[strategy_for(project.task)],
        "selected": None,
    }  # fmt: skip
    wanted = request.GET.get("split", "")
    if wanted:
        try:
            split = selectors.split_get(project_id, wanted)
        except StudioError as exc:
            ctx["select_error"] = exc.message
        else:
            detail = detail_payload(split, selectors.split_status(split))
            detail["percent"] = {
                s: round(100 * n / split.image_count, 1) if split.image_count else 0
                for s, n in detail["sizes"].items()
            }
            detail["ratio_pct"] = {k: f"{100 * v:.4g}" for k, v in detail["ratios"].items()}
            detail["strategy_label"] = STRATEGY_LABELS.get(split.strategy, split.strategy)
            detail["group_header"] = GROUP_HEADERS.get(split.strategy, "Group")
            ctx["selected"] = detail
    return ctx


def splits_page(request: HttpRequest, project_id: str) -> HttpResponse:
    return render(request, "splits/page.html", _page_context(request, project_id))


def _error(message: str, target: str) -> HttpResponse:
    response = HttpResponse(f'<p class="error">{escape(message)}</p>')
    return reswap(retarget(response, target), "innerHTML")


@require_POST
def split_rename(request: HttpRequest, project_id: str, split_id: str) -> HttpResponse:
    try:
        services.split_rename(project_id, split_id, request.POST.get("name", ""))
    except StudioError as exc:
        return _error(exc.message, "#split-error")
    return HttpResponseClientRedirect(
        reverse("splits-page", args=[project_id]) + f"?split={split_id}"
    )


@require_POST
def split_delete(request: HttpRequest, project_id: str, split_id: str) -> HttpResponse:
    try:
        services.split_delete(project_id, split_id)
    except StudioError as exc:
        return _error(exc.message, "#split-error")
    return HttpResponseClientRedirect(reverse("splits-page", args=[project_id]))
