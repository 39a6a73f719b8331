"""The Evaluation page: trained experiments on the left; on the right the evaluation of the
selected one (config + progress, metrics + confusion matrix, per-image results). The right
column is an Alpine component over the JSON API; the server renders the list and the
initial state (so the page is complete without waiting for a request)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import select_template

from apps.core.workspace import ws
from apps.evaluation import selectors, services
from apps.evaluation.serializers import checkpoint_payload, evaluation_payload
from apps.projects import selectors as project_selectors
from studio.errors import StudioError
from studio.ml import evaluate as core
from studio.splits import store as split_store
from studio.storage.experiment_schemas import ExperimentStatus


def _split_sizes(project_id: str, split_id: str | None) -> dict[str, int]:
    if not split_id:
        return {}
    try:
        return split_store.load(ws(), project_id, split_id).sizes.model_dump()
    except StudioError:
        return {}


def task_template(task: str) -> str:
    """The page part that shows this task's metrics and results: ``task/<task>.html``, or a
    note for a task the page cannot show yet."""
    names = [f"evaluation/task/{task}.html"] if task.isidentifier() else []
    return select_template([*names, "evaluation/task/_unsupported.html"]).template.name  # type: ignore[no-any-return]


def _initial(project_id: str, experiment_id: str) -> dict[str, Any]:
    state = selectors.evaluation_state(project_id, experiment_id)
    return {
        "project_id": project_id,
        "experiment_id": experiment_id,
        "evaluation": evaluation_payload(state),
        "checkpoints": [
            checkpoint_payload(c) for c in selectors.checkpoint_list(project_id, experiment_id)
        ],
        "devices": list(core.available_devices()),
        "default_device": services.default_device(),
        "split_sizes": _split_sizes(project_id, state.experiment.split_id),
    }


def evaluation_page(request: HttpRequest, project_id: str) -> HttpResponse:
    try:
        project = project_selectors.project_require(project_id)
        cards = selectors.evaluable_experiments(project_id)
    except StudioError as exc:
        raise Http404(exc.message) from exc
    wanted = request.GET.get("experiment", "")
    ids = [c.experiment.id for c in cards]
    selected = wanted if wanted in ids else selectors.default_experiment(cards)
    ctx: dict[str, Any] = {"project": project, "section": "evaluation", "cards": cards,
                           "selected": selected, "initial": None, "select_error": ""}  # fmt: skip
    if wanted and wanted not in ids:
        ctx["select_error"] = (
            f"Experiment {wanted!r} cannot be evaluated: it does not exist, its training has "
            "not ended, or it has no checkpoint."
        )
    if selected:
        try:
            ctx["initial"] = _initial(project_id, selected)
        except StudioError as exc:
            ctx["select_error"] = exc.message
        else:
            ctx["task"] = ctx["initial"]["evaluation"]["task"]
            # the Export page takes completed experiments only (not stopped or failed ones)
            ctx["exportable"] = any(
                c.experiment.id == selected and c.experiment.status == ExperimentStatus.completed
                for c in cards
            )
            ctx["task_template"] = task_template(ctx["task"])
    return render(request, "evaluation/page.html", ctx)
