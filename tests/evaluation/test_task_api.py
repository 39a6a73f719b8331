"""The evaluation API, mirror, list and ``manage.py evaluate`` for anomaly detection and
regression: per-image score / targets / predictions / error, their sorts and filters (and
the 400 for a filter the task has no column for), CSV columns, the headline."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.management import call_command

from apps.evaluation.models import EvalResult, Evaluation
from apps.evaluation.selectors import format_metric, headline_text
from apps.evaluation.views import task_template
from studio.ml import evaluation_files
from studio.storage.paths import Workspace
from tests.evaluation.fixtures import Template, install
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


def url(t: Template, suffix: str = "") -> str:
    return f"/api/evaluation/{t.project_id}/{t.experiment_id}{suffix}"


def results(api: Any, t: Template, **params: Any) -> list[dict[str, Any]]:
    body = api.get(url(t, "/results"), {**params, "page_size": 200}).json()
    assert body["count"] == len(body["results"]), body
    return body["results"]


def test_anomaly_results_scores_sorts_and_threshold_filters(
    api: Any, anomaly_evaluated: Template
) -> None:
    t = anomaly_evaluated
    body = api.get(url(t)).json()
    agg = body["aggregate"]
    m = agg["anomaly"]["all"]
    assert body["task"] == agg["task"] == "anomaly_detection"
    assert (body["headline"], body["headline_value"]) == ("auroc", m["auroc"])
    assert body["accuracy"] == agg["overall"]["accuracy"]  # class metrics at the threshold
    assert agg["threshold_source"] == "val" and agg["class_names"] == ["good", "anomalous"]

    everything = results(api, t)
    assert len(everything) == m["count"]
    first = everything[0]
    assert 0 <= first["score"] <= 1 and first["targets"] is None and first["error"] is None
    assert {r["true_class"] for r in everything} == {"good", "anomalous"}
    for r in everything:  # the stored verdict is the evaluation's threshold
        assert r["pred_class_id"] == int(r["score"] >= m["threshold"])
        assert r["correct"] == (r["pred_class_id"] == r["true_class_id"])

    down = [r["score"] for r in results(api, t, sort="-score")]
    up = [r["score"] for r in results(api, t, sort="score", subset="test")]
    assert down == sorted(down, reverse=True) and len(down) == len(everything)
    assert up == sorted(up) and len(up) == agg["anomaly"]["test"]["count"]

    # both sides of a threshold (what the page's slider asks for), and a matrix cell
    cut = sorted(r["score"] for r in everything)[len(everything) // 2]
    flagged = results(api, t, score_gte=cut)
    passed = results(api, t, score_lt=cut)
    assert {r["image_id"] for r in flagged} == {
        r["image_id"] for r in everything if r["score"] >= cut
    }
    assert len(flagged) + len(passed) == len(everything)
    caught = results(api, t, true_class="anomalous", score_gte=m["threshold"])
    assert len(caught) == agg["overall"]["confusion_matrix"][1][1]
    assert len(results(api, t, correct="false")) == m["count"] - agg["overall"]["correct"]

    assert_error(api.get(url(t, "/results"), {"sort": "-error"}), 400, "validation_error")
    assert_error(api.get(url(t, "/results"), {"score_gte": "high"}), 400, "validation_error")
    assert_error(api.get(url(t, "/results"), {"score_lt": "nan"}), 400, "validation_error")

    rows = list(
        csv.DictReader(
            io.StringIO(api.get(url(t, "/results.csv"), {"sort": "-score"}).content.decode())
        )
    )
    assert list(rows[0]) == ["image_id", "file_name", "subset", "true_class_id", "true_class",
                             "pred_class_id", "pred_class", "confidence", "correct", "score",
                             "top_k"]  # fmt: skip
    assert float(rows[0]["score"]) == pytest.approx(max(down), abs=1e-6)


def test_regression_results_worst_first_and_no_class_filters(
    api: Any, regression_evaluated: Template
) -> None:
    t = regression_evaluated
    body = api.get(url(t)).json()
    agg = body["aggregate"]
    m = agg["regression"]["all"]
    assert body["task"] == "regression" and body["accuracy"] is None and agg["overall"] is None
    assert (body["headline"], body["headline_value"]) == ("mae", m["mae"])

    worst_first = results(api, t)  # the default order for regression
    errors = [r["error"] for r in worst_first]
    assert errors == sorted(errors, reverse=True) and len(errors) == m["count"]
    first = worst_first[0]
    assert len(first["targets"]) == len(first["predictions"]) == 2
    assert first["error"] == pytest.approx(
        sum(abs(p - a) for a, p in zip(first["targets"], first["predictions"], strict=True)) / 2
    )
    assert first["score"] is None and first["true_class_id"] is None and first["correct"] is None
    assert sum(errors) / len(errors) == pytest.approx(m["mae"])  # MAE = mean of per-image errors
    best_first = [r["error"] for r in results(api, t, sort="error", subset="val")]
    assert best_first == sorted(best_first) and len(best_first) == agg["regression"]["val"]["count"]
    assert results(api, t, sort="") == worst_first
    in_order = results(api, t, sort="position")
    assert [r["subset"] for r in in_order] == sorted(r["subset"] for r in in_order)[
        ::-1
    ]  # test, val

    for params in ({"true_class": "0"}, {"correct": "true"}, {"score_gte": "0.5"}):
        err = assert_error(api.get(url(t, "/results"), params), 400, "not_applicable")
        assert "regression" in err["message"]
    assert_error(api.get(url(t, "/results"), {"sort": "-confidence"}), 400, "validation_error")

    text = api.get(url(t, "/results.csv")).content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["image_id", "file_name", "subset", "targets", "predictions", "error"]
    assert [float(v) for v in rows[0]["targets"].split(";")] == pytest.approx(
        first["targets"], rel=1e-5
    )
    assert float(rows[0]["error"]) == pytest.approx(first["error"], abs=1e-6)


def test_list_cards_show_each_task_headline(
    api: Any, client: Any, user: Any, workspace: Workspace, anomaly_evaluated: Template,
    regression_evaluated_template: Template,
) -> None:  # fmt: skip
    install(regression_evaluated_template, workspace)
    client.force_login(user)
    auroc = api.get(url(anomaly_evaluated)).json()["headline_value"]
    mae = api.get(url(regression_evaluated_template)).json()["headline_value"]
    for t, text in ((anomaly_evaluated, f"evaluated: {headline_text('auroc', auroc)}"),
                    (regression_evaluated_template, f"evaluated: MAE {format_metric(mae)}")):  # fmt: skip
        html = client.get(f"/projects/{t.project_id}/evaluation/").content.decode()
        assert text in html
    assert {e.task: e.headline for e in Evaluation.objects.all()} == {
        "anomaly_detection": "auroc", "regression": "mae",
    }  # fmt: skip
    html = client.get(f"/projects/{anomaly_evaluated.project_id}/evaluation/").content.decode()
    assert 'data-task="anomaly_detection"' in html and 'data-testid="roc-chart"' in html
    html = client.get(
        f"/projects/{regression_evaluated_template.project_id}/evaluation/"
    ).content.decode()
    assert 'data-task="regression"' in html and 'data-testid="scatter-chart"' in html


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [("accuracy", 0.91234, "Accuracy 91.2 %"), ("auroc", 0.98123, "AUROC 98.1 %"),
     ("mae", 3.5, "MAE 3.50"), ("mae", 0.012345, "MAE 0.0123"), ("mae", 123.4, "MAE 123"),
     ("rmse", -4.2, "RMSE -4.20"), ("mae", 0.0, "MAE 0.00"), ("auroc", None, "AUROC n/a"),
     ("r2", 0.91249, "R² 0.912"), ("new_metric", 2.0, "New metric 2.000")],
)  # fmt: skip
def test_headline_text(name: str, value: float | None, text: str) -> None:
    assert headline_text(name, value) == text


def test_evaluate_command_anomaly_and_regression(
    workspace: Workspace, anomaly_template: Template, regression_template: Template
) -> None:
    """In-process runs (services path): the per-task summary, the record's headline, the
    mirror's score / error columns."""
    for t in (anomaly_template, regression_template):
        install(t, workspace)
    out = io.StringIO()
    call_command("evaluate", anomaly_template.project_id, anomaly_template.experiment_id,
                 "--subsets", "test", stdout=out, stderr=io.StringIO())  # fmt: skip
    paths = evaluation_files.evaluation_paths(
        workspace, anomaly_template.project_id, anomaly_template.experiment_id
    )
    agg = evaluation_files.read_aggregate(paths)
    m = agg.anomaly["all"]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(
        f"AUROC {m.auroc:.4f} ({m.count} images, {m.anomalous} anomalous, test) with best.ckpt"
    )
    assert lines[1].startswith(
        f"  threshold {m.threshold:.4f} (best F1 on the evaluated images themselves: optimistic)"
    )
    record = evaluation_files.read_record(paths)
    assert record is not None and (record.headline, record.headline_value) == ("auroc", m.auroc)
    assert record.accuracy == agg.overall.accuracy  # type: ignore[union-attr]
    rows = EvalResult.objects.filter(experiment_id=anomaly_template.experiment_id)
    assert rows.count() == m.count and not rows.filter(score__isnull=True).exists()

    out = io.StringIO()
    call_command("evaluate", regression_template.project_id, regression_template.experiment_id,
                 "--subsets", "val,test", stdout=out, stderr=io.StringIO())  # fmt: skip
    paths = evaluation_files.evaluation_paths(
        workspace, regression_template.project_id, regression_template.experiment_id
    )
    r = evaluation_files.read_aggregate(paths).regression["all"]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"MAE {r.mae:.4g} ({r.count} images, val+test) with best.ckpt; RMSE")
    assert [line.split(":")[0] for line in lines[1:]] == ["  digit", "  ink", "  val", "  test"]
    record = evaluation_files.read_record(paths)
    assert record is not None and record.accuracy is None and record.headline == "mae"
    rows = EvalResult.objects.filter(experiment_id=regression_template.experiment_id)
    assert rows.count() == r.count and not rows.filter(error__isnull=True).exists()
    assert (
        Evaluation.objects.get(experiment_id=regression_template.experiment_id).headline_value
        == r.mae
    )


def test_page_part_per_task(
    client: Any, user: Any, workspace: Workspace, anomaly_template: Template
) -> None:
    """The page includes ``task/<task>.html``; a task without one gets a note, not a 500."""
    assert task_template("regression") == "evaluation/task/regression.html"
    assert task_template("object_detection") == "evaluation/task/_unsupported.html"
    assert task_template("../page") == "evaluation/task/_unsupported.html"
    install(anomaly_template, workspace)
    client.force_login(user)
    html = client.get(f"/projects/{anomaly_template.project_id}/evaluation/").content.decode()
    assert (
        'data-task="anomaly_detection"' in html
        and "AUROC, average precision, the ROC curve" in html
    )
