"""The Dataset page (``/projects/<id>/dataset/``): grid, filters, viewer, import, report.

The page and its grid share one URL: an HTMX request targeting ``#grid`` gets
only the grid partial, so filter/sort/page changes can push the URL and a reload
shows the same view. The import dialog talks to the JSON API (``POST …/import``)
and follows the job over SSE (see ``static/studio/dataset.js``).
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django_htmx.middleware import HtmxDetails

from apps.datasets import conf, selectors
from apps.datasets.serializers import image_item
from apps.projects.selectors import project_require
from studio.datasets.conventions import rules_for
from studio.datasets.images import THUMB_SIZE
from studio.datasets.importers import FORMATS
from studio.datasets.sources import human_bytes
from studio.errors import StudioError

GRID_PARAMS = ("class", "q", "sort", "page", "split", "subset")
SUBSETS = ("train", "val", "test", "unassigned")
PAGE_SIZE = 60
REPORT_ROWS = 5000
SORT_CHOICES = [("name", "Name A-Z"), ("-name", "Name Z-A"), ("-date", "Newest first"), ("date", "Oldest first"),
                ("-size", "Largest first"), ("size", "Smallest first")]  # fmt: skip
TARGET_SORTS = [("target", "Target: lowest first"), ("-target", "Target: highest first")]


def number(value: float) -> str:
    """A target value, short enough for a thumbnail caption (4 significant digits)."""
    return f"{value:.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def target_text(values: list[float] | None, names: list[str]) -> tuple[str, str]:
    """(caption, tooltip) of an image's regression targets; ("", "") without targets."""
    if not values:
        return "", ""
    caption = " · ".join(number(v) for v in values)
    tooltip = ", ".join(
        f"{names[i] if i < len(names) else f'target {i + 1}'} = {v:g}" for i, v in enumerate(values)
    )
    return caption, tooltip


def _project(project_id: str) -> Any:
    try:
        return project_require(project_id)
    except StudioError as exc:
        raise Http404(exc.message) from exc


def _subset_choices(project_id: str) -> list[tuple[str, str]]:
    """(``<split id>:<subset>``, label) for the grid's subset filter, one group per split."""
    from apps.splits.selectors import split_list  # the splits app builds on datasets

    return [
        (f"{split.id}:{subset}", f"{split.name} · {subset}")
        for split in split_list(project_id)
        for subset in SUBSETS
    ]


def _grid_context(project_id: str, request: HttpRequest) -> dict[str, Any]:
    params = {k: request.GET[k] for k in GRID_PARAMS if request.GET.get(k)}
    if request.GET.get("in"):  # the grid form sends split and subset as one choice
        params["split"], _, params["subset"] = request.GET["in"].partition(":")
    params["page_size"] = str(PAGE_SIZE)
    context: dict[str, Any] = {"filters": {k: params.get(k, "") for k in GRID_PARAMS}}
    context["filters"]["in"] = (
        f"{params['split']}:{params['subset']}" if params.get("split") else ""
    )
    context["side_counts"] = _side_counts(project_id, params)
    context["side_counts_json"] = json.dumps(context["side_counts"])
    try:
        page = selectors.image_page(project_id, params)
    except StudioError as exc:
        context.update(images=[], grid_error=exc.message, page=None)
        return context
    base = reverse("dataset-page", args=[project_id])
    query = {k: v for k, v in params.items() if k in ("class", "q", "sort", "split", "subset")}

    def url(number: int) -> str:
        return f"{base}?{urlencode({**query, 'page': number})}"

    names = selectors.dataset_get(project_id).target_names
    images = []
    for row in page.results:
        item = image_item(project_id, row)
        item["target_text"], item["target_title"] = target_text(row["target"], names)
        images.append(item)
    context.update(
        images=images, page=page, grid_error="", has_targets=bool(names),
        prev_url=url(page.page - 1) if page.page > 1 else "",
        next_url=url(page.page + 1) if page.page < page.pages else "",
    )  # fmt: skip
    return context


def _side_counts(project_id: str, params: dict[str, str]) -> dict[str, Any]:
    """The per-class counts the sidebar and the class menu show: of the subset the grid is
    filtered to (``split`` + ``subset``), else of the whole dataset. Sent with every grid
    swap (a data attribute of ``#side-counts``) so the sidebar follows the subset filter.

    ``{"counts": {"<class id>" | "none": n}, "total": n, "subset": "<split name> · val" | ""}``
    """
    split, subset = params.get("split", ""), params.get("subset", "")
    label = ""
    try:
        counts = selectors.class_counts(project_id, split, subset)
        if split:
            from apps.splits.selectors import split_list

            names = {row.id: row.name for row in split_list(project_id)}
            label = f"{names.get(split, split)} · {subset}"
    except StudioError:  # a bad split/subset: the grid shows the error, the sidebar all images
        counts = selectors.class_counts(project_id)
    return {
        "counts": {("none" if k is None else str(k)): n for k, n in counts.items()},
        "total": sum(counts.values()),
        "subset": label,
    }


def _selected_class(dataset: Any, value: str) -> str:
    """The class filter as the class menu's option value (an id, ``none``, or ``""``): a
    ``?class=`` given by name selects the same entry as its id."""
    if not value:
        return ""
    try:
        class_id = selectors.resolve_class(dataset, value)
    except StudioError:
        return ""
    return "none" if class_id is None else str(class_id)


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (``request.htmx``)."""

    htmx: HtmxDetails


def dataset_page(request: HtmxHttpRequest, project_id: str) -> HttpResponse:
    project = _project(project_id)
    if request.htmx and request.htmx.target == "grid":
        return render(
            request,
            "datasets/_grid.html",
            {"project": project, **_grid_context(project_id, request)},
        )
    dataset = selectors.dataset_get(project_id)
    counts = selectors.class_counts(project_id)
    rules = rules_for(project.task)
    classes = [
        {"id": c.id, "name": c.name, "color": c.color, "count": counts.get(c.id, 0),
         "role": rules.class_role(c.name)}
        for c in dataset.classes
    ]  # fmt: skip
    imports = selectors.import_list(project_id)
    image_count = sum(counts.values())
    context = {
        "project": project, "section": "dataset", "classes": classes,
        "image_count": image_count, "unlabelled": counts.get(None, 0) if classes else 0,
        "target_names": dataset.target_names, "imports": imports[:20],
        "formats": list(FORMATS.values()), "default_format": rules.default_format,
        "sort_choices": SORT_CHOICES + (TARGET_SORTS if dataset.target_names else []),
        "thumb_size": THUMB_SIZE, **_roles(classes), **_targets(project_id, dataset.target_names, image_count),
        # what each format looks like for this task (a template per task, else the general one)
        "task_templates": [f"datasets/task/{project.task}.html", "datasets/task/default.html"],
        "chart_height": min(600, max(120, 26 * len(classes) + 40)),
        "max_upload": human_bytes(conf.zip_caps().max_upload_bytes),
        # the server-folder source (and where the roots are): only for users allowed to use it
        "can_import_folders": conf.may_import_server_folders(request.user),
        "import_roots": [str(r) for r in conf.import_roots()]
        if conf.may_import_server_folders(request.user) else [],
        "chart": {"ids": [c["id"] for c in classes], "labels": [c["name"] for c in classes], "counts": [c["count"] for c in classes],
                  "colors": [c["color"] for c in classes]},
        "subset_choices": _subset_choices(project_id),
        **_grid_context(project_id, request),
    }  # fmt: skip
    side = context["side_counts"]["counts"]
    for c in classes:  # what the sidebar shows first (then the grid's json keeps it current)
        c["side_count"] = side.get(str(c["id"]), 0)
    context["side_unlabelled"] = side.get("none", 0)
    context["selected_class"] = _selected_class(dataset, context["filters"]["class"])
    return render(request, "datasets/page.html", context)


def _roles(classes: list[dict[str, Any]]) -> dict[str, Any]:
    """Normal vs. defect image counts, for tasks whose classes have roles (anomaly detection)."""
    roles = [c for c in classes if c["role"]]
    if not roles:
        return {"roles": None}
    normal = sum(c["count"] for c in roles if c["role"] == "normal")
    defect = sum(c["count"] for c in roles if c["role"] == "defect")
    return {
        "roles": {
            "normal": normal,
            "defect": defect,
            "has_normal": any(c["role"] == "normal" for c in roles),
        }
    }


def _targets(project_id: str, names: list[str], image_count: int) -> dict[str, Any]:
    """The regression targets' statistics and histograms (empty without target columns)."""
    if not names:
        return {"targets": [], "without_target": 0, "target_chart": None}
    stats = selectors.target_stats(project_id)
    with_values = stats[0]["count"] if stats else 0
    chart = []
    for t in stats:
        edges = t.get("edges", [])
        ranges = [f"{number(a)} to {number(b)}" for a, b in itertools.pairwise(edges)]
        labels = [number(a) for a in edges[:-1]]  # ticks: each bin's lower edge
        chart.append({"name": t["name"], "counts": t.get("counts", []), "labels": labels,
                      "ranges": ranges})  # fmt: skip
    rows = [{**t, **{k: number(t[k]) for k in ("min", "max", "mean") if k in t}} for t in stats]
    return {
        "targets": rows,
        "without_target": max(0, image_count - with_values),
        "target_chart": chart,
    }


def import_report(request: HttpRequest, project_id: str, import_id: str) -> HttpResponse:
    """The report partial shown after an import and in the import history."""
    _project(project_id)
    try:
        selectors.import_list(project_id)  # marks a report whose job already ended
        report = selectors.import_report(project_id, import_id)
    except StudioError as exc:
        raise Http404(exc.message) from exc
    errors = [i for i in report.issues if i.severity == "error"]
    warnings = [i for i in report.issues if i.severity == "warning"]
    return render(request, "datasets/_report.html", {
        "project_id": project_id, "report": report, "issues": report.issues[:REPORT_ROWS],
        "more": max(0, len(report.issues) - REPORT_ROWS), "error_count": len(errors),
        "warning_count": len(warnings),
    })  # fmt: skip
