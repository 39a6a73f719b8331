"""Evaluation reads: status + aggregate from the JSON, per-image results from the mirror.

Every read first brings the mirror in line with disk (cheap: two ``stat`` calls) and marks
an evaluation whose job died (see ``services.evaluation_reconcile``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from apps.core.pagination import Page, int_param
from apps.core.workspace import ws
from apps.evaluation import services
from apps.evaluation.mirror import mirror_evaluation
from apps.evaluation.models import EvalResult, Evaluation
from apps.projects.selectors import project_require
from studio.errors import Conflict, StudioError, ValidationFailed
from studio.ml import evaluation_files, vocabulary
from studio.splits.schemas import SUBSETS
from studio.storage.evaluation_schemas import (
    EvaluationAggregate,
    EvaluationRecord,
    EvaluationStatus,
)
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
RESULT_PARAMS = {"page", "page_size", "subset", "correct", "true_class", "pred_class",
                 "score_gte", "score_lt", "sort"}  # fmt: skip
# sort key -> (the aggregate block its column needs, ORDER BY); "-x" = descending
SORT_COLUMNS = {"confidence": "class_names", "score": "anomaly", "error": "regression"}
_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_ENDED = (ExperimentStatus.completed, ExperimentStatus.stopped, ExperimentStatus.failed,
          ExperimentStatus.interrupted)  # fmt: skip


def experiment_require(project_id: str, experiment_id: str) -> ExperimentFile:
    project_require(project_id)
    return evaluation_files.read_experiment(ws(), project_id, experiment_id)


@dataclass(frozen=True)
class EvaluationState:
    experiment: ExperimentFile
    record: EvaluationRecord | None
    aggregate: EvaluationAggregate | None


def evaluation_state(project_id: str, experiment_id: str) -> EvaluationState:
    """The experiment, its evaluation record (None if never evaluated) and, once completed,
    the aggregate. 404 for an unknown project or experiment, 409 for damaged files."""
    experiment = experiment_require(project_id, experiment_id)
    record = services.evaluation_reconcile(project_id, experiment_id)
    mirror_evaluation(project_id, experiment_id)
    aggregate = None
    if record is not None and record.status == EvaluationStatus.completed:
        aggregate = evaluation_files.read_aggregate(
            evaluation_files.evaluation_paths(ws(), project_id, experiment_id)
        )
    return EvaluationState(experiment, record, aggregate)


def checkpoint_list(project_id: str, experiment_id: str) -> list[evaluation_files.CheckpointInfo]:
    experiment = experiment_require(project_id, experiment_id)
    return evaluation_files.list_checkpoints(
        evaluation_files.evaluation_paths(ws(), project_id, experiment_id), experiment
    )


def format_metric(value: float) -> str:
    """A value in the task's own units: three significant digits (the vocabulary's ``error``)."""
    return vocabulary.format_value("mae", value)


def headline_text(name: str, value: float | None) -> str:
    """``"AUROC 98.1 %"`` / ``"MAE 3.50"`` / ``"Accuracy 91.2 %"`` (:mod:`studio.ml.vocabulary`,
    as every page writes it); ``"… n/a"`` for a missing value."""
    label = vocabulary.metric_label(name)
    return f"{label} {vocabulary.format_value(name, value) if value is not None else 'n/a'}"


@dataclass(frozen=True)
class ExperimentCard:
    experiment: ExperimentFile
    checkpoints: int
    evaluation: Evaluation | None

    @property
    def evaluation_text(self) -> str:
        """The card's evaluation line: its headline once completed, else its status."""
        row = self.evaluation
        if row is None:
            return ""
        if row.status != EvaluationStatus.completed:
            return f"evaluation {row.status}"
        if row.headline:
            return f"evaluated: {headline_text(row.headline, row.headline_value)}"
        return f"evaluated: {headline_text('accuracy', row.accuracy)}"  # mirrored by an old version


def _monitor_mode(task: str) -> str:
    """``"max"`` or ``"min"``: whether a higher monitored metric is better for ``task``
    (``"max"`` for a task the registry cannot load)."""
    from studio.ml.tasks.registry import load_task

    try:
        return str(load_task(task).monitor_mode)
    except StudioError:
        return "max"


def best_experiment(experiments: Iterable[ExperimentFile]) -> ExperimentFile | None:
    """The experiment with the best monitored validation metric (``best_metric``), in the
    direction of its task's ``monitor_mode`` (higher accuracy/AUROC, lower MAE); ties go to
    the newest. Experiments without a finite metric rank last (newest first among them);
    None for no experiments. The one rule behind "the best experiment" on the Evaluation and
    Export pages: the newest run is often a quick test at chance level, the best one is what
    a user came to evaluate or export."""

    def rank(e: ExperimentFile) -> tuple[bool, float, datetime, str]:
        value = e.best_metric.value if e.best_metric else math.nan
        if not math.isfinite(value):
            return (False, 0.0, e.created_at, e.id)
        return (True, value if _monitor_mode(e.task) == "max" else -value, e.created_at, e.id)

    return max(experiments, key=rank, default=None)


def default_experiment(cards: Sequence[ExperimentCard]) -> str:
    """The experiment the Evaluation page opens without ``?experiment=``: the one evaluated
    most recently (the evaluation a user last started, whatever its status), else
    :func:`best_experiment`; ``""`` for no cards."""
    evaluated = [c for c in cards if c.evaluation is not None]
    if evaluated:

        def when(c: ExperimentCard) -> datetime:
            row = c.evaluation
            assert row is not None
            return row.finished_at or row.created_at

        return max(evaluated, key=when).experiment.id
    best = best_experiment(c.experiment for c in cards)
    return best.id if best else ""


def evaluable_experiments(project_id: str) -> list[ExperimentCard]:
    """Experiments whose training ended and that have a checkpoint, newest first."""
    project_require(project_id)
    cards = []
    for experiment_id in evaluation_files.experiment_ids(ws(), project_id):
        try:
            experiment = evaluation_files.read_experiment(ws(), project_id, experiment_id)
        except StudioError:  # damaged: the Training page reports it
            continue
        paths = evaluation_files.evaluation_paths(ws(), project_id, experiment_id)
        found = len(evaluation_files.list_checkpoints(paths, experiment))
        if experiment.status not in _ENDED or not found:
            continue
        row = None
        with contextlib.suppress(StudioError):
            services.evaluation_reconcile(project_id, experiment_id)
            row = mirror_evaluation(project_id, experiment_id)
        cards.append(ExperimentCard(experiment, found, row))
    return sorted(cards, key=lambda c: (c.experiment.created_at, c.experiment.id), reverse=True)


# ----------------------------------------------------------------- per-image results


def _class(aggregate: EvaluationAggregate, key: str, value: str) -> int:
    """A class filter value: a class id, or a class name of the evaluated model (a whole
    number is read as an id first, so ids stay unambiguous when class names are numbers)."""
    names = dict(zip(aggregate.class_names, aggregate.class_ids, strict=True))
    if value.lstrip("-").isdigit() and int(value) in aggregate.class_ids:
        return int(value)
    if value in names:
        return names[value]
    raise ValidationFailed(f"No class {value!r} in this evaluation", code="unknown_class",
                           details={key: [f"Use a class id or name of: {', '.join(names)}"]})  # fmt: skip


def _check_block(aggregate: EvaluationAggregate, block: str, key: str) -> None:
    """400 when ``key`` filters or sorts by a column this evaluation's task does not fill."""
    if not getattr(aggregate, block):
        raise ValidationFailed(
            f"{key} does not apply to this evaluation ({aggregate.task})",
            code="not_applicable", details={key: [f"Not a column of {aggregate.task} results."]},
        )  # fmt: skip


def _float(params: Mapping[str, str], key: str) -> float:
    try:
        value = float(params[key])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValidationFailed(f"{key} must be a number", details={key: ["A number."]})
    return value


def default_sort(aggregate: EvaluationAggregate) -> str:
    """Results with a per-image error (regression) list the worst first; others keep the
    evaluation order (subset, then image id)."""
    return "-error" if aggregate.regression else ""


def sorts(aggregate: EvaluationAggregate) -> list[str]:
    """The ``sort`` values this evaluation's results accept (``position``: evaluation order)."""
    return ["position"] + [f"{d}{k}" for k, block in SORT_COLUMNS.items()
                           if getattr(aggregate, block) for d in ("", "-")]  # fmt: skip


def results_queryset(
    project_id: str, experiment_id: str, params: Mapping[str, str]
) -> QuerySet[EvalResult]:
    """Filtered and ordered results (409 ``not_evaluated`` before a completed evaluation).

    Filters: ``subset``; with classes (classification, anomaly detection) ``correct``
    (true/false), ``true_class``, ``pred_class`` (id or name; both together = one
    confusion-matrix cell); anomaly detection ``score_gte`` / ``score_lt`` (score >= / <
    a number: the two sides of a threshold). ``sort``: ``confidence`` (class tasks),
    ``score`` (anomaly), ``error`` (regression), each with ``-`` for descending, or
    ``position`` (evaluation order); empty or absent: see :func:`default_sort`. Unknown parameters are a 400, so is a filter or sort the
    task's results have no column for (``not_applicable``).
    """
    unknown = sorted(set(params) - RESULT_PARAMS)
    if unknown:
        raise ValidationFailed(f"Unknown parameter {unknown[0]!r}", code="unknown_parameter",
                               details={p: ["Not a filter of this list."] for p in unknown})  # fmt: skip
    state = evaluation_state(project_id, experiment_id)
    aggregate = state.aggregate
    if aggregate is None:
        status = state.record.status.value if state.record else "not evaluated"
        raise Conflict(f"This experiment has no evaluation results ({status})",
                       code="not_evaluated")  # fmt: skip
    qs = EvalResult.objects.filter(project_id=project_id, experiment_id=experiment_id)
    subset = params.get("subset", "")
    if subset:
        if subset not in SUBSETS:
            raise ValidationFailed(f"Unknown subset {subset!r}: use train, val or test",
                                   details={"subset": ["train, val or test"]})  # fmt: skip
        qs = qs.filter(subset=subset)
    correct = params.get("correct", "")
    if correct:
        _check_block(aggregate, "class_names", "correct")
        if correct.lower() not in _BOOL:
            raise ValidationFailed("correct must be true or false",
                                   details={"correct": ["true or false"]})  # fmt: skip
        qs = qs.filter(correct=_BOOL[correct.lower()])
    for key, column in (("true_class", "true_class"), ("pred_class", "pred_class")):
        if params.get(key, ""):
            _check_block(aggregate, "class_names", key)
            qs = qs.filter(**{column: _class(aggregate, key, params[key])})
    for key, lookup in (("score_gte", "score__gte"), ("score_lt", "score__lt")):
        if params.get(key, ""):
            _check_block(aggregate, "anomaly", key)
            qs = qs.filter(**{lookup: _float(params, key)})
    sort = params.get("sort", "") or default_sort(aggregate)
    allowed = sorts(aggregate)
    if sort and sort not in allowed:
        raise ValidationFailed(f"Unknown sort {sort!r}: use {' or '.join(allowed)}",
                               details={"sort": allowed})  # fmt: skip
    return qs.order_by(*((sort, "position") if sort not in ("", "position") else ("position",)))


def result_page(project_id: str, experiment_id: str, params: Mapping[str, str]) -> Page[EvalResult]:
    qs = results_queryset(project_id, experiment_id, params)
    page_size = int_param(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = int_param(params, "page", 1, 1, 10**9)
    count = qs.count()
    start = (page - 1) * page_size
    return Page(list(qs[start : start + page_size]), count, page, page_size)


def result_payload(project_id: str, row: EvalResult) -> dict[str, Any]:
    base = f"/api/datasets/{project_id}/images/{row.image_id}"
    return {
        "image_id": row.image_id, "file_name": row.file_name, "subset": row.subset,
        "true_class_id": row.true_class, "true_class": row.true_name,
        "pred_class_id": row.pred_class, "pred_class": row.pred_name,
        "confidence": row.confidence, "correct": row.correct, "top_k": row.top_k,
        "score": row.score, "targets": row.targets, "predictions": row.predictions,
        "error": row.error, "thumbnail_url": f"{base}/thumbnail", "image_url": f"{base}/file",
    }  # fmt: skip
