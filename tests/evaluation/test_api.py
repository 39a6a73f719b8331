"""The evaluation API: status, results (filters, sort, pages), CSV, checkpoints, reset, and
every error. Jobs are only queued here (no worker); ``test_worker.py`` runs them."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from apps.evaluation.models import EvalResult, Evaluation
from studio.ml import evaluate as core
from studio.ml import evaluation_files
from studio.storage.experiment_schemas import ExperimentStatus
from studio.storage.paths import Workspace
from tests.evaluation.fixtures import Template, add_experiment
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


def url(t: Template, suffix: str = "", experiment: str | None = None) -> str:
    return f"/api/evaluation/{t.project_id}/{experiment or t.experiment_id}{suffix}"


def all_results(api: Any, t: Template, **params: Any) -> list[dict[str, Any]]:
    body = api.get(url(t, "/results"), {**params, "page_size": 200}).json()
    assert body["count"] == len(body["results"]), body
    return body["results"]


def test_status_aggregate_and_auth(api: Any, anon_api: Any, evaluated: Template) -> None:
    body = api.get(url(evaluated)).json()
    assert body["status"] == "completed" and body["config"]["subsets"] == ["val", "test"]
    assert (
        body["experiment"]["name"] == "Digits baseline"
        and body["experiment"]["model"] == "resnet18"
    )
    agg = body["aggregate"]
    assert set(agg["subsets"]) == {"val", "test"} and len(agg["class_names"]) == 10
    assert agg["overall"]["count"] == sum(agg["subsets"][s]["count"] for s in ("val", "test"))
    assert (
        len(agg["overall"]["confusion_matrix"]) == 10 and len(agg["overall"]["calibration"]) == 15
    )
    assert body["accuracy"] == agg["overall"]["accuracy"]
    assert body["task"] == agg["task"] == "classification"
    assert (body["headline"], body["headline_value"]) == ("accuracy", body["accuracy"])
    for suffix in ("", "/results", "/results.csv", "/checkpoints"):
        assert_error(anon_api.get(url(evaluated, suffix)), 401, "not_authenticated")
    assert_error(anon_api.delete(url(evaluated)), 401, "not_authenticated")


def test_never_evaluated_reads_as_none(api: Any, trained: Template) -> None:
    body = api.get(url(trained)).json()
    assert body["status"] == "none" and body["aggregate"] is None and body["config"] is None
    assert_error(api.get(url(trained, "/results")), 409, "not_evaluated")
    assert_error(api.get(url(trained, "/results.csv")), 409, "not_evaluated")


def test_results_filters_sort_and_pages(api: Any, evaluated: Template) -> None:
    everything = all_results(api, evaluated)
    agg = api.get(url(evaluated)).json()["aggregate"]
    assert len(everything) == agg["overall"]["count"]
    first = everything[0]
    assert set(first) == {"image_id", "file_name", "subset", "true_class_id", "true_class",
                          "pred_class_id", "pred_class", "confidence", "correct", "top_k",
                          "score", "targets", "predictions", "error",
                          "thumbnail_url", "image_url"}  # fmt: skip
    assert first["score"] is None and first["targets"] is None and first["error"] is None
    assert (
        first["thumbnail_url"]
        == f"/api/datasets/{evaluated.project_id}/images/{first['image_id']}/thumbnail"
    )

    wrong = all_results(api, evaluated, correct="false")
    right = all_results(api, evaluated, correct="true")
    assert wrong and right and len(wrong) + len(right) == len(everything)
    assert not any(r["correct"] for r in wrong) and all(r["correct"] for r in right)
    test = all_results(api, evaluated, subset="test")
    assert len(test) == agg["subsets"]["test"]["count"] and {r["subset"] for r in test} == {"test"}

    # one confusion-matrix cell (ids or names): exactly its count, exactly its images
    ids, names = agg["class_ids"], agg["class_names"]
    for i, row in enumerate(agg["subsets"]["test"]["confusion_matrix"]):
        for j, n in enumerate(row):
            cell = all_results(api, evaluated, subset="test", true_class=ids[i], pred_class=ids[j])
            assert len(cell) == n
            expected = {
                r["image_id"]
                for r in test
                if r["true_class_id"] == ids[i] and r["pred_class_id"] == ids[j]
            }
            assert {r["image_id"] for r in cell} == expected
    i, j = next(
        (i, j)
        for i, row in enumerate(agg["overall"]["confusion_matrix"])
        for j, n in enumerate(row)
        if n and i != j
    )
    by_name = all_results(api, evaluated, true_class=names[i], pred_class=names[j])
    assert len(by_name) == agg["overall"]["confusion_matrix"][i][j]
    assert all(
        r["true_class"] == names[i] and r["pred_class"] == names[j] and not r["correct"]
        for r in by_name
    )

    down = [r["confidence"] for r in all_results(api, evaluated, sort="-confidence")]
    up = [r["confidence"] for r in all_results(api, evaluated, sort="confidence", correct="false")]
    assert down == sorted(down, reverse=True) and len(down) == len(everything)
    assert up == sorted(up) and len(up) == len(wrong)

    page2 = api.get(url(evaluated, "/results"), {"page": 2, "page_size": 7}).json()
    assert page2["page"] == 2 and page2["page_size"] == 7 and page2["count"] == len(everything)
    assert [r["image_id"] for r in page2["results"]] == [r["image_id"] for r in everything[7:14]]
    assert page2["pages"] == -(-len(everything) // 7)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"page_size": 201}, "validation_error"),
        ({"page": 0}, "validation_error"),
        ({"subset": "holdout"}, "validation_error"),
        ({"correct": "maybe"}, "validation_error"),
        ({"true_class": "eleven"}, "unknown_class"),
        ({"sort": "name"}, "validation_error"),
        ({"sort": "-error"}, "validation_error"),  # no per-image error in classification
        ({"score_gte": "0.5"}, "not_applicable"),
        ({"colour": "red"}, "unknown_parameter"),
    ],
)
def test_bad_result_parameters(
    api: Any, evaluated: Template, params: dict[str, Any], code: str
) -> None:
    assert_error(api.get(url(evaluated, "/results"), params), 400, code)


def test_csv_download(api: Any, evaluated: Template) -> None:
    response = api.get(url(evaluated, "/results.csv"), HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="evaluation-{evaluated.project_id}-{evaluated.experiment_id}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    everything = all_results(api, evaluated)
    assert [r["image_id"] for r in rows] == [r["image_id"] for r in everything]
    first, expected = rows[0], everything[0]
    assert (
        first["file_name"] == expected["file_name"]
        and first["true_class"] == expected["true_class"]
    )
    assert first["correct"] == ("true" if expected["correct"] else "false")
    assert float(first["confidence"]) == pytest.approx(expected["confidence"], abs=1e-6)
    assert first["top_k"].split(";")[0].split(":")[0] == expected["pred_class"]
    wrong = api.get(url(evaluated, "/results.csv"), {"correct": "false"}).content.decode()
    assert len(list(csv.DictReader(io.StringIO(wrong)))) == len(
        all_results(api, evaluated, correct="false")
    )


def test_checkpoints_list_only_existing_files(
    api: Any, workspace: Workspace, trained: Template
) -> None:
    found = api.get(url(trained, "/checkpoints")).json()
    assert [(c["name"], c["best"], c["last"]) for c in found] == [
        ("best.ckpt", True, False),
        ("last.ckpt", False, True),
    ]
    assert all(c["size"] > 1000 and c["modified"] for c in found)
    folder = (
        evaluation_files.experiment_dir(workspace, trained.project_id, trained.experiment_id)
        / "checkpoints"
    )
    (folder / "best.ckpt").unlink()
    (folder / "notes.txt").write_text("not a checkpoint")
    assert [c["name"] for c in api.get(url(trained, "/checkpoints")).json()] == ["last.ckpt"]
    err = assert_error(
        api.post(url(trained), {"checkpoint": "best.ckpt"}, format="json"),
        404,
        "checkpoint_not_found",
    )
    assert "best.ckpt" in err["message"]
    assert_error(
        api.post(url(trained), {"checkpoint": "../experiment.json"}, format="json"),
        400,
        "invalid_checkpoint",
    )
    (folder / "last.ckpt").unlink()
    assert api.get(url(trained, "/checkpoints")).json() == []
    assert_error(api.post(url(trained), {}, format="json"), 409, "not_trained")


def test_start_errors(api: Any, workspace: Workspace, trained: Template) -> None:
    add_experiment(workspace, trained, "edraft", status=ExperimentStatus.draft)
    add_experiment(
        workspace, trained, "erunning", status=ExperimentStatus.running, checkpoints=True
    )
    err = assert_error(
        api.post(url(trained, experiment="edraft"), {}, format="json"), 409, "not_trained"
    )
    assert "Train it" in err["message"]
    assert_error(
        api.post(url(trained, experiment="erunning"), {}, format="json"), 409, "experiment_running"
    )
    assert_error(api.post(url(trained, experiment="nope"), {}, format="json"), 404, "not_found")
    assert_error(api.get(url(trained, experiment="nope")), 404, "not_found")
    assert_error(
        api.post(f"/api/evaluation/pnope/{trained.experiment_id}", {}, format="json"),
        404,
        "not_found",
    )
    assert_error(api.post(url(trained), {"subsets": []}, format="json"), 400, "no_subsets")
    assert_error(
        api.post(url(trained), {"subsets": "holdout"}, format="json"), 400, "unknown_subset"
    )
    assert_error(api.post(url(trained), {"batch_size": 0}, format="json"), 400, "validation_error")
    assert_error(api.post(url(trained), {"device": "tpu"}, format="json"), 400, "validation_error")
    if "cuda" not in core.available_devices():
        assert_error(
            api.post(url(trained), {"device": "cuda"}, format="json"), 400, "device_unavailable"
        )
    assert not Evaluation.objects.exists()  # nothing was recorded by a refused start


def test_empty_subset_is_refused(api: Any, workspace: Workspace, trained: Template) -> None:
    from studio.splits import store as split_store

    split = split_store.load(workspace, trained.project_id, trained.split_id)
    kept = {i: s for i, s in split.assignments.items() if s != "test"}
    split_store.save(workspace, split.model_copy(update={"assignments": kept}))
    err = assert_error(
        api.post(url(trained), {"subsets": ["val", "test"]}, format="json"), 400, "empty_subset"
    )
    assert "test" in err["message"]


def test_start_twice_then_reset(api: Any, workspace: Workspace, trained: Template) -> None:
    started = api.post(
        url(trained), {"subsets": "test,val", "batch_size": 16, "device": "cpu"}, format="json"
    )
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["events_url"] == f"/api/jobs/{body['job_id']}/events"
    assert body["evaluation"]["status"] == "queued"
    assert body["evaluation"]["config"] == {"checkpoint": "best.ckpt", "subsets": ["val", "test"],
                                            "batch_size": 16, "device": "cpu"}  # fmt: skip
    assert api.get(f"/api/jobs/{body['job_id']}/").json()["kind"] == "evaluation"
    assert_error(api.post(url(trained), {}, format="json"), 409, "evaluation_running")

    paths = evaluation_files.evaluation_paths(workspace, trained.project_id, trained.experiment_id)
    assert paths.record.is_file()
    assert api.delete(url(trained)).status_code == 204
    assert not paths.root.exists() and not Evaluation.objects.exists()
    assert api.get(f"/api/jobs/{body['job_id']}/").json()["status"] == "cancelled"
    assert api.get(url(trained)).json()["status"] == "none"
    assert api.delete(url(trained)).status_code == 204  # idempotent


def test_cancelled_job_is_reconciled(api: Any, trained: Template) -> None:
    body = api.post(url(trained), {}, format="json").json()
    api.post(f"/api/jobs/{body['job_id']}/cancel")
    status = api.get(url(trained)).json()
    assert status["status"] == "cancelled"
    assert api.post(url(trained), {}, format="json").status_code == 202  # not blocked any more


def test_reset_deletes_files_and_mirror_rows(
    api: Any, workspace: Workspace, evaluated: Template
) -> None:
    assert len(all_results(api, evaluated)) > 0
    assert EvalResult.objects.filter(experiment_id=evaluated.experiment_id).exists()
    assert api.delete(url(evaluated)).status_code == 204
    paths = evaluation_files.evaluation_paths(
        workspace, evaluated.project_id, evaluated.experiment_id
    )
    assert not paths.root.exists()
    assert not EvalResult.objects.exists() and not Evaluation.objects.exists()
    assert api.get(url(evaluated)).json()["status"] == "none"
    assert_error(api.get(url(evaluated, "/results")), 409, "not_evaluated")


def test_mirror_rebuild(api: Any, evaluated: Template) -> None:
    from apps.evaluation.services import mirror_rebuild

    count = len(all_results(api, evaluated))
    EvalResult.objects.all().delete()
    Evaluation.objects.all().delete()
    assert mirror_rebuild() == 1
    assert EvalResult.objects.count() == count


def test_reset_while_running_discards_the_run(workspace: Workspace, trained: Template) -> None:
    """A run whose evaluation is reset mid-way writes nothing (checked in-process)."""
    from apps.evaluation import services

    config = core.make_config(checkpoint="best.ckpt", subsets=["test"], batch_size=4)
    record = services._begin(trained.project_id, trained.experiment_id, config)

    def progress(done: int, total: int) -> None:
        if done == 4:  # after the first batch
            services.evaluation_reset(trained.project_id, trained.experiment_id)

    result = services._execute(trained.project_id, trained.experiment_id, record.run_id,
                               job_id=None, progress=progress, should_stop=lambda: False)  # fmt: skip
    assert result == {"discarded": True}
    assert not evaluation_files.evaluation_paths(
        workspace, trained.project_id, trained.experiment_id
    ).root.exists()
    assert not Evaluation.objects.exists() and not EvalResult.objects.exists()
