"""Experiments API under ``/api/experiments/{project_id}/``.

- ``GET  …/`` list · ``POST …/`` create (``name``, ``split_id``, ``config`` overrides,
  optional ``start``): 400 with per-field details for every invalid setting, 404 for an
  unknown split, 400 ``task_unavailable`` for a project whose task cannot be trained yet.
- ``GET …/{id}`` · ``DELETE …/{id}`` (409 ``experiment_active`` while queued/running; moves
  the folder to ``projects/<pid>/.trash/experiments/``).
- ``POST …/{id}/start`` (202; 409 ``already_started``) · ``…/stop`` (202; 409 ``not_running``)
  · ``…/resume`` (202; 409 ``not_resumable``).
- ``GET …/{id}/metrics`` (the metrics.json rows) · ``GET …/{id}/events`` (SSE, see ``sse.py``).
- ``GET …/estimate?model=&image_size=&batch_size=[&split=][&epochs=]``: the time per epoch
  expected on this machine (``estimate.py``); 400 for an unknown model or bad numbers.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.experiments import estimate, selectors, services
from apps.experiments.serializers import (
    EstimateQuerySerializer,
    EstimateSerializer,
    ExperimentCreateSerializer,
    ExperimentSerializer,
    ExperimentSummarySerializer,
    detail_payload,
    summary_payload,
)
from apps.projects import selectors as project_selectors
from studio.ml.catalog import get_spec


class ExperimentListView(APIView):
    @extend_schema(responses=ExperimentSummarySerializer(many=True))
    def get(self, request: Request, project_id: str) -> Response:
        """The project's experiments, newest first, with status and final metrics."""
        return Response([summary_payload(r) for r in selectors.experiment_list(project_id)])

    @extend_schema(request=ExperimentCreateSerializer, responses={201: ExperimentSerializer})
    def post(self, request: Request, project_id: str) -> Response:
        """Create a draft experiment (``start: true`` also queues its training)."""
        data = ExperimentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        exp = services.experiment_create(
            project_id, values["split_id"], values.get("config"), values.get("name")
        )
        if values.get("start"):
            exp = services.experiment_start(project_id, exp.id)
        return Response(detail_payload(exp), status=status.HTTP_201_CREATED)


class ExperimentDetailView(APIView):
    @extend_schema(responses=ExperimentSerializer)
    def get(self, request: Request, project_id: str, experiment_id: str) -> Response:
        return Response(detail_payload(selectors.experiment_get(project_id, experiment_id)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """Move the experiment (checkpoints included) to the project's trash."""
        services.experiment_delete(project_id, experiment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExperimentStartView(APIView):
    @extend_schema(request=None, responses={202: ExperimentSerializer})
    def post(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """Queue the experiment's training (once); follow it at ``events_url``."""
        exp = services.experiment_start(project_id, experiment_id)
        return Response(detail_payload(exp), status=status.HTTP_202_ACCEPTED)


class ExperimentStopView(APIView):
    @extend_schema(request=None, responses={202: ExperimentSerializer})
    def post(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """Stop after the current batch (``last.ckpt`` is saved; status becomes ``stopped``)."""
        exp = services.experiment_stop(project_id, experiment_id)
        return Response(detail_payload(exp), status=status.HTTP_202_ACCEPTED)


class ExperimentResumeView(APIView):
    @extend_schema(request=None, responses={202: ExperimentSerializer})
    def post(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """Continue a stopped or interrupted run from ``last.ckpt`` in a new job."""
        exp = services.experiment_resume(project_id, experiment_id)
        return Response(detail_payload(exp), status=status.HTTP_202_ACCEPTED)


class ExperimentMetricsView(APIView):
    @extend_schema(responses={200: {"type": "array", "items": {"type": "object"}}})
    def get(self, request: Request, project_id: str, experiment_id: str) -> Response:
        """One row per finished epoch: epoch, train_loss, val_loss, val_<metric>…, lr, time_s."""
        return Response(selectors.experiment_metrics(project_id, experiment_id))


class ExperimentEstimateView(APIView):
    @extend_schema(
        parameters=[EstimateQuerySerializer],
        responses={200: EstimateSerializer},
        description=(
            "How long one epoch should take on this machine for these settings: one training "
            "step is timed here when that takes under a second, else a formula calibrated "
            "once per model gives it; times the split's training batches, plus the validation "
            "pass. An estimate: data loading and checkpoint writes are not counted."
        ),
    )
    def get(self, request: Request, project_id: str) -> Response:
        """The estimated seconds per epoch (and for ``epochs`` epochs) of a training run."""
        query = EstimateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        project = project_selectors.project_require(project_id)
        get_spec(values["model"], project.task)
        split_id = values.get("split") or ""
        if not split_id:
            newest = selectors.newest_split(project_id)
            split_id = newest or ""
        if split_id:
            train, val = selectors.split_sizes(project_id, split_id)
        else:  # no split yet: every image would train
            train, val = selectors.image_count(project_id), 0
        result = estimate.epoch_estimate(
            values["model"], values["image_size"], values["batch_size"], train, val,
            values.get("epochs"),
        )  # fmt: skip
        return Response(result.to_dict())
