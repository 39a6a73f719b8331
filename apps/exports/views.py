"""The Export page (Alpine + HTMX): choose an experiment, checkpoint and format, follow the
job over SSE, see the validation verdict, download, delete, and try the model on an image.

All actions go through the JSON API (``/api/export/…``, ``/api/predict/…``); the page
renders the initial state and the list fragment that is refreshed after each action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.workspace import ws
from apps.exports import selectors
from apps.exports.serializers import scan_payload
from apps.projects import selectors as project_selectors
from studio.errors import StudioError
from studio.ml.export import describe_formats, store
from studio.ml.export.base import OPSET_DEFAULT, OPSET_MAX, OPSET_MIN
from studio.ml.export.validate import DEFAULT_PARITY


def _rows(project_id: str, experiment_id: str) -> list[dict[str, Any]]:
    rows = [
        scan_payload(f, project_id, experiment_id)
        for f in selectors.export_scan(project_id, experiment_id)
    ]
    for row in rows:
        row["threshold"] = (row.get("settings") or {}).get("threshold")
        v = row.get("validation") or {}
        parity, numeric = v.get("parity") or {}, v.get("numeric") or {}
        row["agreement_pct"] = f"{100 * parity['agreement']:.2f}" if parity else None
        row["delta_pts"] = (
            f"{100 * parity['accuracy_delta']:+.2f}"
            if parity.get("accuracy_delta") is not None
            else None
        )
        row["max_abs_diff"] = numeric.get("max_abs_diff")
        row["created"] = (
            datetime.fromisoformat(row["created_at"]) if row.get("created_at") else None
        )
    return rows


def export_page(request: HttpRequest, project_id: str) -> HttpResponse:
    try:
        project = project_selectors.project_require(project_id)
        experiments = selectors.exportable_experiments(project_id)
    except StudioError as exc:
        raise Http404(exc.message) from exc
    wanted = request.GET.get("experiment", "")
    selected = next((e for e in experiments if e["id"] == wanted), None)
    if selected is None:
        selected = selectors.default_experiment(project_id, experiments)
    ctx: dict[str, Any] = {
        "project": project, "section": "export", "experiments": experiments,
        "selected": selected, "formats": describe_formats(), "rows": [],
        "opset": {"min": OPSET_MIN, "max": OPSET_MAX, "default": OPSET_DEFAULT},
        "parity_threshold_pct": round(100 * DEFAULT_PARITY),
        "any_experiment": bool(store.experiments(ws(), project_id)),
        "select_error": "",
    }  # fmt: skip
    if wanted and selected is not None and selected["id"] != wanted:
        ctx["select_error"] = (
            f"Experiment {wanted!r} cannot be exported: it does not exist, its training has not "
            f"completed, or it has no checkpoint. Showing {selected['name']} instead."
        )
    if selected:
        ctx["rows"] = _rows(project_id, selected["id"])
        ctx["defaults"] = selectors.default_settings(project_id, selected)
        ctx["agreement_label"] = _agreement_label(ctx["rows"])
    return render(request, "exports/page.html", ctx)


def _agreement_label(rows: list[dict[str, Any]]) -> str:
    """What the list's agreement column counts (one experiment = one task = one label)."""
    labels = [r["agreement_label"] for r in rows if r.get("agreement_label")]
    return labels[0] if labels else "same prediction"


def export_list(request: HttpRequest, project_id: str) -> HttpResponse:
    """The "Earlier exports" fragment of one experiment (refreshed by the page's script)."""
    experiment_id = request.GET.get("experiment", "")
    try:
        project = project_selectors.project_require(project_id)
        rows = _rows(project_id, experiment_id)
    except StudioError as exc:
        raise Http404(exc.message) from exc
    ctx = {"project": project, "rows": rows, "agreement_label": _agreement_label(rows)}
    return render(request, "exports/_list.html", ctx)
