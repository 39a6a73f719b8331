"""Which experiment the Evaluation and Export pages open: the most recently evaluated one, else
the best by the monitored metric (its task's direction), never simply the newest run."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apps.evaluation.models import Evaluation
from apps.evaluation.selectors import ExperimentCard, best_experiment, default_experiment
from studio.ml import evaluation_files
from studio.storage import project_store
from studio.storage.evaluation_schemas import (
    EvaluationConfig,
    EvaluationRecord,
    EvaluationStatus,
)
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus, MetricValue
from studio.storage.jsonio import write_json_atomic
from studio.storage.paths import Workspace
from tests.exports.helpers import add_experiment
from tests.members import alice_owns

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def exp(eid: str, value: float | None, age_days: int, task: str = "classification",
        metric: str = "val_accuracy") -> ExperimentFile:  # fmt: skip
    """An experiment created ``age_days`` before the newest one, with that best metric."""
    return ExperimentFile(
        id=eid, project_id="p", name=eid, task=task, status=ExperimentStatus.completed,
        created_at=T0 - timedelta(days=age_days),
        best_metric=MetricValue(name=metric, value=value) if value is not None else None,
    )  # fmt: skip


def card(e: ExperimentFile, evaluated_days_ago: int | None = None) -> ExperimentCard:
    row = None
    if evaluated_days_ago is not None:
        when = T0 + timedelta(days=10 - evaluated_days_ago)
        row = Evaluation(project_id="p", experiment_id=e.id, run_id="r", status="completed",
                         created_at=when, finished_at=when)  # fmt: skip
    return ExperimentCard(e, 1, row)


def test_best_experiment_follows_the_task_direction() -> None:
    chance, good, middling = exp("chance", 0.1, 0), exp("good", 0.9, 2), exp("mid", 0.5, 1)
    assert best_experiment([chance, good, middling]) is good
    # regression monitors MAE: lower is better
    worse, better = (
        exp("worse", 3.0, 0, "regression", "val_mae"),
        exp("better", 1.5, 3, "regression", "val_mae"),
    )
    assert best_experiment([worse, better]) is better
    # anomaly detection monitors AUROC: higher is better
    a, b = (
        exp("a", 0.6, 0, "anomaly_detection", "val_auroc"),
        exp("b", 0.97, 5, "anomaly_detection", "val_auroc"),
    )
    assert best_experiment([a, b]) is b


def test_best_experiment_ranks_missing_metrics_last_and_breaks_ties_by_age() -> None:
    none_new, nan, scored = exp("none", None, 0), exp("nan", math.nan, 1), exp("scored", 0.2, 9)
    assert best_experiment([none_new, nan, scored]) is scored
    assert best_experiment([exp("old", None, 5), none_new]) is none_new  # no metric at all: newest
    tie_old, tie_new = exp("tie-old", 0.8, 4), exp("tie-new", 0.8, 1)
    assert best_experiment([tie_old, tie_new]) is tie_new
    assert best_experiment([]) is None


def test_default_experiment_prefers_the_last_evaluated_then_the_best() -> None:
    chance, good, mid = exp("chance", 0.1, 0), exp("good", 0.9, 2), exp("mid", 0.5, 1)
    assert default_experiment([card(chance), card(good), card(mid)]) == "good"
    evaluated = [card(chance), card(good, evaluated_days_ago=3), card(mid, evaluated_days_ago=1)]
    assert default_experiment(evaluated) == "mid"  # the most recent evaluation wins
    assert default_experiment([]) == ""


# ----------------------------------------------------------------- the pages


def three_runs(ws: Workspace, tmp_path: Path, task: str = "classification") -> str:
    """A project with three completed runs: ``best`` (oldest), ``middle``, ``chance`` (newest)."""
    pid = project_store.create(ws, "Runs", task, members=alice_owns()).id
    ckpt = tmp_path / "dummy.ckpt"
    ckpt.write_bytes(b"not used by the pages")
    for age, (eid, value) in enumerate([("chance", 0.1), ("middle", 0.6), ("best", 0.95)]):
        e = add_experiment(
            ws, pid, eid, checkpoints={"best.ckpt": ckpt}, name=f"Run {eid}", task=task
        )
        folder = ws.project_dir(pid) / "experiments" / eid
        write_json_atomic(folder / "experiment.json", e.model_copy(update={
            "best_metric": MetricValue(name="val_accuracy", value=value, epoch=2),
            "created_at": T0 - timedelta(days=age),
        }))  # fmt: skip
    return pid


def evaluate_on_disk(ws: Workspace, pid: str, eid: str, finished: datetime) -> None:
    """An ended (failed) evaluation record: enough to count as "evaluated last"."""
    record = EvaluationRecord(
        project_id=pid, experiment_id=eid, run_id="r1", status=EvaluationStatus.failed,
        config=EvaluationConfig(checkpoint="best.ckpt", batch_size=64), created_at=finished, finished_at=finished, error="test",
    )  # fmt: skip
    write_json_atomic(evaluation_files.evaluation_paths(ws, pid, eid).record, record)


def selected_evaluation(client: Any, pid: str, query: str = "") -> str:
    response = client.get(f"/projects/{pid}/evaluation/{query}")
    assert response.status_code == 200
    return str(response.context["selected"])


@pytest.mark.django_db
def test_evaluation_page_opens_the_best_then_the_last_evaluated(
    client: Any, user: Any, workspace: Workspace, tmp_path: Path
) -> None:
    client.force_login(user)
    pid = three_runs(workspace, tmp_path)
    assert selected_evaluation(client, pid) == "best"  # not "chance", the newest
    assert selected_evaluation(client, pid, "?experiment=middle") == "middle"
    evaluate_on_disk(workspace, pid, "middle", T0 + timedelta(days=1))
    evaluate_on_disk(workspace, pid, "chance", T0)
    assert selected_evaluation(client, pid) == "middle"
    assert selected_evaluation(client, pid, "?experiment=chance") == "chance"
    page = client.get(f"/projects/{pid}/evaluation/?experiment=gone").content.decode()
    assert "cannot be evaluated" in page


@pytest.mark.django_db
def test_evaluation_offers_export_of_a_completed_experiment(
    client: Any, user: Any, workspace: Workspace, tmp_path: Path
) -> None:
    client.force_login(user)
    pid = three_runs(workspace, tmp_path)
    page = client.get(f"/projects/{pid}/evaluation/?experiment=middle").content.decode()
    assert f'href="/projects/{pid}/export/?experiment=middle"' in page
    folder = workspace.project_dir(pid) / "experiments" / "middle"
    stopped = ExperimentFile.model_validate_json((folder / "experiment.json").read_text())
    write_json_atomic(folder / "experiment.json",
                      stopped.model_copy(update={"status": ExperimentStatus.stopped}))  # fmt: skip
    page = client.get(f"/projects/{pid}/evaluation/?experiment=middle").content.decode()
    assert 'data-testid="to-export"' not in page  # the Export page takes completed runs only
