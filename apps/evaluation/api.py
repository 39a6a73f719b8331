"""Evaluation API: ``/api/evaluation/{project_id}/{experiment_id}`` (POST start → 202 job,
GET status + aggregate, DELETE reset → 204), ``…/results`` (paginated, filterable),
``…/results.csv`` (download) and ``…/checkpoints``."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.evaluation import selectors, services
from apps.evaluation.models import EvalResult
from apps.evaluation.serializers import (
    CheckpointSerializer,
    EvaluateRequestSerializer,
    EvaluationSerializer,
    ResultPageSerializer,
    StartedSerializer,
    checkpoint_payload,
    evaluation_payload,
)
from studio.ml import evaluate as core
from studio.storage.evaluation_schemas import EvaluationAggregate

RESULT_PARAMETERS = [
    OpenApiParameter("page", int, description="1-based page number"),
    OpenApiParameter("page_size", int, description=f"1-{selectors.MAX_PAGE_SIZE}, default {selectors.DEFAULT_PAGE_SIZE}"),
    OpenApiParameter("subset", str, enum=["train", "val", "test"]),
    OpenApiParameter("correct", str, enum=["true", "false"], description="class tasks"),
    OpenApiParameter("true_class", str, description="class id or name (with pred_class: one confusion-matrix cell); anomaly: 0/good, 1/anomalous"),
    OpenApiParameter("pred_class", str, description="class id or name"),
    OpenApiParameter("score_gte", float, description="anomaly: score >= this (anomalous at that threshold)"),
    OpenApiParameter("score_lt", float, description="anomaly: score < this (good at that threshold)"),
    OpenApiParameter("sort", str, enum=["position", "confidence", "-confidence", "score", "-score", "error", "-error"],
                     description="position: evaluation order; confidence: class tasks, score: anomaly, error: regression; default: -error for regression, else position"),
]  # fmt: skip


def _top_k(r: EvalResult) -> str:
    return ";".join(f"{t['class_name']}:{t['probability']:.6f}" for t in r.top_k)


def _values(values: list[float] | None) -> str:
    return ";".join(f"{v:.6g}" for v in values or [])


def _opt(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


CsvColumns = list[tuple[str, Callable[[EvalResult], Any]]]
_ID_COLUMNS: CsvColumns = [("image_id", lambda r: r.image_id), ("file_name", lambda r: r.file_name),
                           ("subset", lambda r: r.subset)]  # fmt: skip
# (the aggregate block a column group belongs to, its columns); a group is written when the
# evaluation carries that block, so each task gets its own columns and no empty ones
CSV_GROUPS: list[tuple[str, CsvColumns]] = [
    ("class_names", [
        ("true_class_id", lambda r: r.true_class), ("true_class", lambda r: r.true_name),
        ("pred_class_id", lambda r: r.pred_class), ("pred_class", lambda r: r.pred_name),
        ("confidence", lambda r: f"{r.confidence:.6f}"),
        ("correct", lambda r: "" if r.correct is None else str(r.correct).lower()),
    ]),
    ("anomaly", [("score", lambda r: _opt(r.score))]),
    ("regression", [("targets", lambda r: _values(r.targets)),
                    ("predictions", lambda r: _values(r.predictions)),
                    ("error", lambda r: _opt(r.error))]),
    ("class_names", [("top_k", _top_k)]),
]  # fmt: skip


def csv_columns(aggregate: EvaluationAggregate) -> CsvColumns:
    """The CSV columns of this evaluation's results (see ``CSV_GROUPS``)."""
    columns = list(_ID_COLUMNS)
    for block, group in CSV_GROUPS:
        if getattr(aggregate, block):
            columns += group
    return columns


class IgnoreClientContentNegotiation(BaseContentNegotiation):
    """The CSV route answers CSV whatever ``Accept`` says (errors stay JSON)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0]

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> Any:
        return renderers[0], renderers[0].media_type


def _params(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "") for k in request.query_params}


class EvaluationView(APIView):
    @extend_schema(responses=EvaluationSerializer)
    def get(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """Status (``none`` if never evaluated), config, progress link and, once completed,
        the aggregate metrics (overall and per subset)."""
        state = selectors.evaluation_state(project_id, experiment_id)
        return Response(evaluation_payload(state))

    @extend_schema(request=EvaluateRequestSerializer, responses={202: StartedSerializer})
    def post(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """Start evaluating a checkpoint on subsets of the experiment's split (a job).

        409 ``not_trained`` (no checkpoint), ``experiment_running``, ``evaluation_running``;
        404 ``checkpoint_not_found``; 400 ``no_subsets``, ``empty_subset``, ``device_unavailable``.
        """
        data = EvaluateRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        checkpoint = values.get("checkpoint")
        if not checkpoint:
            found = selectors.checkpoint_list(project_id, experiment_id)
            checkpoint = found[0].name if found else "best.ckpt"
        config = core.make_config(
            checkpoint=checkpoint, subsets=values.get("subsets", ["test"]),
            batch_size=values["batch_size"], device=values.get("device") or services.default_device(),
        )  # fmt: skip
        record = services.evaluation_start(project_id, experiment_id, config)
        state = selectors.evaluation_state(project_id, experiment_id)
        body = {"job_id": record.job_id, "events_url": f"/api/jobs/{record.job_id}/events",
                "evaluation": evaluation_payload(state)}  # fmt: skip
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """Reset: delete the evaluation (files and results) now; a running job is cancelled."""
        services.evaluation_reset(project_id, experiment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CheckpointListView(APIView):
    @extend_schema(responses=CheckpointSerializer(many=True))
    def get(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """The experiment's ``.ckpt`` files that exist now (best first, then last)."""
        found = selectors.checkpoint_list(project_id, experiment_id)
        return Response([checkpoint_payload(c) for c in found])


class ResultListView(APIView):
    @extend_schema(parameters=RESULT_PARAMETERS, responses=ResultPageSerializer)
    def get(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """A page of per-image results; 409 ``not_evaluated`` until an evaluation completed."""
        page = selectors.result_page(project_id, experiment_id, _params(request))
        return Response({
            "count": page.count, "page": page.page, "page_size": page.page_size,
            "pages": page.pages,
            "results": [selectors.result_payload(project_id, r) for r in page.results],
        })  # fmt: skip


class ResultCsvView(APIView):
    content_negotiation_class = IgnoreClientContentNegotiation

    @extend_schema(parameters=RESULT_PARAMETERS[2:], responses={(200, "text/csv"): str})
    def get(self, request: Request, project_id: str, experiment_id: str) -> HttpResponse:
        """Every per-image result (the same filters as …/results) as a CSV attachment."""
        params = {k: v for k, v in _params(request).items() if k not in ("page", "page_size")}
        rows = selectors.results_queryset(project_id, experiment_id, params)
        aggregate = selectors.evaluation_state(project_id, experiment_id).aggregate
        columns = csv_columns(aggregate) if aggregate else list(_ID_COLUMNS)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([name for name, _ in columns])
        for r in rows.iterator():
            writer.writerow([value(r) for _, value in columns])
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="evaluation-{project_id}-{experiment_id}.csv"'
        )
        return response
