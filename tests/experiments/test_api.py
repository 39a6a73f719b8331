"""Experiments API without a worker: every endpoint and each error path."""

from __future__ import annotations

from typing import Any

import pytest

from apps.experiments import store
from studio.ml.tasks.registry import load_task
from studio.storage import job_store, project_store
from studio.storage.paths import Workspace
from studio.storage.schemas import JobStatus
from tests.experiments.helpers import FAST_CONFIG
from tests.members import alice_owns
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


def url(pid: str, eid: str = "", action: str = "") -> str:
    base = f"/api/experiments/{pid}/"
    return base + eid + (f"/{action}" if action else "")


def create(api: Any, pid: str, sid: str, **body: Any) -> dict[str, Any]:
    payload = {"split_id": sid, "config": FAST_CONFIG, **body}
    response = api.post(url(pid), payload, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_list_get_metrics_delete(
    api: Any, digits: tuple[str, str], workspace: Workspace
) -> None:
    pid, sid = digits
    exp = create(api, pid, sid, name="  Baseline   one ")
    assert exp["name"] == "Baseline one" and exp["status"] == "draft" and exp["split_id"] == sid
    from studio.ml.hparams import TrainingConfig
    from studio.ml.tasks.registry import load_task

    task_lr = load_task("classification").default_hparams().get("lr", TrainingConfig().lr)
    assert exp["config"]["model"] == "resnet18" and exp["config"]["lr"] == task_lr  # task default
    assert exp["config"]["augment"]["random_resized_crop"] is False
    assert exp["events_url"] == f"/api/experiments/{pid}/{exp['id']}/events"
    assert exp["jobs"] == [] and exp["job"] is None and exp["resumable"] is False
    assert store.experiment_file(workspace, pid, exp["id"]).is_file()

    second = create(api, pid, sid)
    assert second["name"] == "Experiment 2"
    listed = api.get(url(pid)).json()
    assert [e["id"] for e in listed] == [second["id"], exp["id"]]  # newest first
    assert listed[1]["model"] == "resnet18" and listed[1]["epochs"] == 2

    assert api.get(url(pid, exp["id"])).json()["id"] == exp["id"]
    assert api.get(url(pid, exp["id"], "metrics")).json() == []

    assert api.delete(url(pid, exp["id"])).status_code == 204
    trashed = list(store.trash_dir(workspace, pid).iterdir())
    assert [p.name.split("--")[0] for p in trashed] == [exp["id"]]
    assert (trashed[0] / "experiment.json").is_file()
    assert_error(api.get(url(pid, exp["id"])), 404, "not_found")
    assert [e["id"] for e in api.get(url(pid)).json()] == [second["id"]]


def _invalid_values(field: dict[str, Any]) -> list[Any]:
    """Values that break ``field``'s declared type or bounds."""
    kind = field["type"]
    if kind == "choice":
        return ["not-a-choice"]
    if kind == "bool":
        return ["maybe"]
    values: list[Any] = ["lots"]
    if "minimum" in field:
        values.append(field["minimum"] - 1)
    if "exclusive_minimum" in field:
        values.append(field["exclusive_minimum"])
    if "maximum" in field:
        values.append(field["maximum"] + 1)
    if "exclusive_maximum" in field:
        values.append(field["exclusive_maximum"])
    return values


def test_every_invalid_hyperparameter_is_a_400_naming_the_field(
    api: Any, digits: tuple[str, str]
) -> None:
    pid, sid = digits
    described = load_task("classification").describe()
    cases: list[tuple[dict[str, Any], str]] = []
    for field in described["hyperparameters"]:
        cases += [({field["name"]: v}, field["name"]) for v in _invalid_values(field)]
    for field in described["augmentations"]:
        cases += [
            ({"augment": {field["name"]: v}}, f"augment.{field['name']}")
            for v in _invalid_values(field)
        ]
    cases += [({"no_such_setting": 1}, "no_such_setting"), ({"precision": "16-mixed"}, "precision")]
    assert len(cases) > 40
    for config, key in cases:
        response = api.post(url(pid), {"split_id": sid, "config": config}, format="json")
        error = assert_error(response, 400, "validation_error")
        assert key in error["details"], (config, error)
        assert all(isinstance(m, str) and m for m in error["details"][key])
    # several at once: each named
    response = api.post(
        url(pid),
        {"split_id": sid, "config": {"lr": -1, "epochs": 0, "augment": {"rotation": 999}}},
        format="json",
    )
    assert {"lr", "epochs", "augment.rotation"} <= set(
        assert_error(response, 400, "validation_error")["details"]
    )
    assert api.get(url(pid)).json() == []  # nothing was created


def test_request_errors(
    api: Any, anon_api: Any, digits: tuple[str, str], workspace: Workspace
) -> None:
    pid, sid = digits
    assert_error(anon_api.get(url(pid)), 401, "not_authenticated")
    assert_error(api.post(url(pid), {"config": {}}, format="json"), 400, "validation_error")
    assert_error(api.post(url(pid), {"split_id": "snope"}, format="json"), 404, "not_found")
    assert_error(
        api.post(url(pid), {"split_id": sid, "config": [1]}, format="json"), 400, "validation_error"
    )
    assert_error(api.get(url("pnope")), 404, "not_found")
    assert_error(api.get(url(pid, "enope")), 404, "not_found")
    assert_error(api.get(url(pid, "../x")), 404, "not_found")
    create(api, pid, sid, name="Same")
    assert_error(
        api.post(url(pid), {"split_id": sid, "name": "same"}, format="json"), 409, "duplicate_name"
    )
    # pretrained weights are not on this (offline) machine: a sentence, and how to go on
    error = assert_error(
        api.post(url(pid), {"split_id": sid, "config": {"pretrained": True}}, format="json"),
        400,
        "weights_unavailable",
    )
    assert "from scratch" in error["message"] and "pretrained" in error["details"]
    # a task that cannot be trained yet
    other = project_store.create(workspace, "Boxes", "object_detection", members=alice_owns())
    error = assert_error(
        api.post(url(other.id), {"split_id": sid}, format="json"), 400, "task_unavailable"
    )


def test_start_stop_resume_rules(api: Any, digits: tuple[str, str], workspace: Workspace) -> None:
    pid, sid = digits
    exp = create(api, pid, sid)
    eid = exp["id"]
    assert_error(api.post(url(pid, eid, "stop")), 409, "not_running")
    assert_error(api.post(url(pid, eid, "resume")), 409, "not_resumable")

    started = api.post(url(pid, eid, "start"))
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["status"] == "queued" and body["job_id"] and body["jobs"] == [body["job_id"]]
    assert body["events_url"].endswith(f"/{eid}/events")
    job = job_store.load(workspace, body["job_id"])
    assert job.kind == "training" and job.params == {
        "project_id": pid,
        "experiment_id": eid,
        "resume": False,
    }
    assert_error(api.post(url(pid, eid, "start")), 409, "already_started")
    assert_error(api.delete(url(pid, eid)), 409, "experiment_active")

    # stopping a run nobody picked up yet takes it out of the queue: back to draft
    stopped = api.post(url(pid, eid, "stop"))
    assert stopped.status_code == 202 and stopped.json()["status"] == "draft"
    assert job_store.load(workspace, body["job_id"]).status == JobStatus.cancelled
    again = api.post(url(pid, eid, "start")).json()
    assert again["status"] == "queued" and len(again["jobs"]) == 2

    # create + start in one call
    direct = create(api, pid, sid, start=True)
    assert direct["status"] == "queued" and direct["job_id"]


def test_tasks_endpoint_describes_trainable_tasks(api: Any) -> None:
    tasks = api.get("/api/tasks/").json()
    assert len(tasks) == 7
    by_name = {t["name"]: t for t in tasks}
    cls = by_name["classification"]
    assert cls["available"] and cls["label"] == "Classification" and cls["description"]
    assert {m["key"] for m in cls["models"]} >= {"resnet18", "mobilenet_v3_small"}
    model = next(m for m in cls["models"] if m["key"] == "resnet18")
    assert (
        model["parameters"] > 1e6
        and model["description"]
        and model["pretrained_available"] is False
    )
    fields = {f["name"]: f for f in cls["hyperparameters"]}
    assert fields["lr"]["help"] and fields["lr"]["default"] > 0 and fields["epochs"]["minimum"] == 1
    assert {a["name"] for a in cls["augmentations"]} >= {"hflip", "rotation"}
    detection = by_name["object_detection"]
    assert detection["available"] is False and "models" not in detection
    assert set(detection) == {"name", "label", "description", "available"}
    # the two tasks of issue 8: their own monitored metric, settings and lighter augmentations
    for name, monitor, mode, shown, hidden in (
        ("anomaly_detection", "val_auroc", "max", "class_weights", "loss"),
        ("regression", "val_mae", "min", "loss", "class_weights"),
    ):
        task = by_name[name]
        assert task["available"] and task["monitor"] == {"metric": monitor, "mode": mode}
        names = {f["name"] for f in task["hyperparameters"]}
        assert shown in names and hidden not in names and "label_smoothing" not in names
        augment = {a["name"]: a["default"] for a in task["augmentations"]}
        assert augment["hflip"] is False and augment["random_resized_crop"] is False
    assert set(by_name["anomaly_detection"]["metrics"]) == {
        "val_auroc", "val_average_precision", "val_f1",
    }  # fmt: skip
    assert set(by_name["regression"]["metrics"]) == {"val_mae", "val_mse", "val_rmse", "val_r2"}
    assert "loss" not in {f["name"] for f in cls["hyperparameters"]}
