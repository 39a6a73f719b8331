"""The Training page (Alpine + Chart.js over the experiments API and its SSE stream).

``/projects/<pid>/training/`` lists the experiments; ``?exp=<id>`` shows one run (status,
progress with ETA, live curves, start/stop/resume); ``?new=1`` (or no experiment yet) shows
the configuration form built from ``Task.describe()``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.core.workspace import ws
from apps.experiments import selectors, suggest
from apps.experiments.serializers import detail_payload
from apps.projects import selectors as project_selectors
from apps.splits import selectors as split_selectors
from studio.datasets import store as dataset_store
from studio.errors import StudioError
from studio.ml.catalog import models_for
from studio.ml.tasks.registry import load_task, task_info

log = logging.getLogger(__name__)
# Shown first in the form (those the task describes); every other one goes under "Advanced".
# ``loss`` only exists for tasks that choose a loss (regression); others hide it.
MAIN_FIELDS = ["epochs", "batch_size", "lr", "image_size", "optimizer", "scheduler", "loss"]


def _describe(task: str) -> tuple[dict[str, Any] | None, str]:
    """The task's form description, or None and why training is not possible."""
    info = task_info(task)
    if not info.available:
        return None, f"Training for {info.label} is not available in this version yet."
    try:
        return load_task(task).describe(), ""
    except StudioError as exc:
        return None, exc.message


def _image_size_hint(project_id: str, task: str) -> dict[str, Any] | None:
    """The image size suggested per model from the images' median size (None: no images)."""
    median = selectors.median_image_size(project_id)
    if median is None:
        return None
    return suggest.image_size_hint(median[0], median[1], models_for(task))


def training_page(request: HttpRequest, project_id: str) -> HttpResponse:
    try:
        project = project_selectors.project_require(project_id)
        experiments = list(selectors.experiment_list(project_id))
        splits = [s for s in split_selectors.split_list(project_id) if not s.damaged]
    except StudioError as exc:
        raise Http404(exc.message) from exc
    try:
        image_count = dataset_store.load_dataset(ws(), project_id).image_count
    except StudioError:
        image_count = 0
    describe, unavailable = _describe(project.task)
    split_names = {s.id: s.name for s in splits}
    ctx: dict[str, Any] = {
        "project": project, "section": "training", "experiments": experiments,
        "splits": splits, "split_names": split_names, "image_count": image_count,
        "unavailable": unavailable, "selected": None, "select_error": "",
        "form": None, "monitor": (describe or {}).get("monitor") or {"metric": "", "mode": "max"},
    }  # fmt: skip
    wanted = request.GET.get("exp", "")
    if not wanted and not request.GET.get("new") and experiments:
        wanted = experiments[0].id
    if wanted:
        try:
            exp = selectors.experiment_get(project_id, wanted)
        except StudioError as exc:
            ctx["select_error"] = exc.message
        else:
            payload = detail_payload(exp)
            payload["split_name"] = split_names.get(exp.split_id or "", exp.split_id or "")
            payload["created_label"] = exp.created_at.strftime("%Y-%m-%d %H:%M UTC")
            ctx["selected"] = payload
    if ctx["selected"] is None and describe is not None:
        ctx["form"] = {
            "describe": describe,
            "main": [n for n in MAIN_FIELDS
                     if any(f["name"] == n for f in describe["hyperparameters"])],
            "splits": [{"id": s.id, "name": s.name, "train": s.train_count, "val": s.val_count,
                        "test": s.test_count} for s in splits],
            "image_size_hint": _image_size_hint(project_id, project.task),
            "estimate_url": reverse("api-experiment-estimate", args=[project_id]),
        }  # fmt: skip
    for row in experiments:
        row.split_name = split_names.get(row.split_id, row.split_id)  # type: ignore[attr-defined]
    return render(request, "experiments/page.html", ctx)
