"""Keeping the evaluation mirror equal to the workspace.

``mirror_evaluation(pid, exp_id)`` compares the mtimes of ``evaluation.json`` and
``results.json`` with the row and re-reads only what changed; result rows exist only
while the evaluation is ``completed``. ``rebuild_all`` reloads every experiment.
"""

from __future__ import annotations

import contextlib

from django.db import transaction

from apps.core.workspace import ws
from apps.evaluation.models import EvalResult, Evaluation
from studio.errors import StudioError
from studio.ml import evaluation_files
from studio.storage.evaluation_schemas import EvaluationStatus

BATCH = 2000


def _mtime(path: object) -> int:
    try:
        return path.stat().st_mtime_ns  # type: ignore[attr-defined,no-any-return]
    except FileNotFoundError:
        return 0


def forget(project_id: str, experiment_id: str) -> None:
    """Drop the rows of one experiment's evaluation (after a reset)."""
    with transaction.atomic():
        EvalResult.objects.filter(project_id=project_id, experiment_id=experiment_id).delete()
        Evaluation.objects.filter(project_id=project_id, experiment_id=experiment_id).delete()


def _load_results(row: Evaluation, paths: evaluation_files.EvaluationPaths) -> None:
    results = evaluation_files.read_results(paths).results
    EvalResult.objects.filter(project_id=row.project_id, experiment_id=row.experiment_id).delete()
    EvalResult.objects.bulk_create(
        (
            EvalResult(
                project_id=row.project_id, experiment_id=row.experiment_id, position=i,
                image_id=r.image_id, file_name=r.file_name[:1000], subset=r.subset,
                true_class=r.true_class_id, true_name=r.true_class[:200],
                pred_class=r.pred_class_id, pred_name=r.pred_class[:200], correct=r.correct,
                confidence=r.confidence, top_k=[t.model_dump() for t in r.top_k],
                score=r.score, targets=r.targets, predictions=r.predictions, error=r.error,
            )
            for i, r in enumerate(results)
        ),
        batch_size=BATCH,
    )  # fmt: skip


def mirror_evaluation(
    project_id: str, experiment_id: str, *, force: bool = False
) -> Evaluation | None:
    """The row of this experiment's evaluation, refreshed from disk; None if there is none.

    Raises ``Damaged`` when ``evaluation.json`` or ``results.json`` cannot be read.
    """
    paths = evaluation_files.evaluation_paths(ws(), project_id, experiment_id)
    json_mtime = _mtime(paths.record)
    if not json_mtime:
        forget(project_id, experiment_id)
        return None
    row = Evaluation.objects.filter(project_id=project_id, experiment_id=experiment_id).first()
    results_mtime = _mtime(paths.results)
    if (
        row is not None and not force and row.json_mtime_ns == json_mtime
        and row.results_mtime_ns == (results_mtime if row.status == "completed" else 0)
    ):  # fmt: skip
        return row
    record = evaluation_files.read_record(paths)
    if record is None:  # deleted between the stat and the read
        forget(project_id, experiment_id)
        return None
    completed = record.status == EvaluationStatus.completed
    with transaction.atomic():
        row, _ = Evaluation.objects.update_or_create(
            project_id=project_id, experiment_id=experiment_id,
            defaults={"run_id": record.run_id, "status": record.status.value,
                      "checkpoint": record.config.checkpoint, "subsets": record.config.subsets,
                      "job_id": record.job_id or "", "accuracy": record.accuracy,
                      "task": record.task, "headline": record.headline,
                      "headline_value": record.headline_value,
                      "error": record.error[:4000], "created_at": record.created_at,
                      "finished_at": record.finished_at, "json_mtime_ns": json_mtime},
        )  # fmt: skip
        if completed and (force or row.results_mtime_ns != results_mtime):
            _load_results(row, paths)
        elif not completed:
            EvalResult.objects.filter(project_id=project_id, experiment_id=experiment_id).delete()
        row.results_mtime_ns = results_mtime if completed else 0
        row.save(update_fields=["results_mtime_ns"])
    return row


def rebuild_all() -> int:
    """Drop every evaluation row and reload all experiments; returns the evaluation count."""
    EvalResult.objects.all().delete()
    Evaluation.objects.all().delete()
    root = ws().projects_dir
    if root.exists():
        for folder in sorted(root.iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            with contextlib.suppress(StudioError):  # e.g. a folder name that is no id
                for experiment_id in evaluation_files.experiment_ids(ws(), folder.name):
                    with contextlib.suppress(StudioError):  # a damaged evaluation stays out
                        mirror_evaluation(folder.name, experiment_id, force=True)
    return Evaluation.objects.count()
