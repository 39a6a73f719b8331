"""Export and predict API: jobs run in-process with ``job_execute`` (what the worker does)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from PIL import Image

from apps.core.services import job_execute
from apps.exports.models import Export
from studio.ml.export.store import export_dir
from studio.storage.experiment_schemas import ExperimentStatus
from studio.storage.paths import Workspace
from tests.exports.helpers import add_experiment
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


def png(seed: int = 0, size: int = 20) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def start(api: Any, pid: str, eid: str, **body: Any) -> Any:
    return api.post(f"/api/export/{pid}/{eid}", {"format": "onnx", **body}, format="json")


def exported(api: Any, pid: str, eid: str, **body: Any) -> dict[str, Any]:
    response = start(api, pid, eid, **body)
    assert response.status_code == 202, response.content
    job_execute(response.json()["job_id"])
    return api.get(f"/api/export/{pid}/{eid}/{response.json()['export_id']}").json()


def test_export_list_detail_download_delete(
    api: Any, anon_api: Any, db_trained: tuple[str, str], workspace: Workspace
) -> None:
    pid, eid = db_trained
    started = start(api, pid, eid, opset=17)
    assert started.status_code == 202
    body = started.json()
    assert body["events_url"] == f"/api/jobs/{body['job_id']}/events"
    assert body["export"]["status"] == "queued" and body["export"]["download_url"] is None
    job_execute(body["job_id"])
    detail = api.get(f"/api/export/{pid}/{eid}/{body['export_id']}").json()
    assert detail["status"] == "completed" and detail["job_id"] == body["job_id"]
    assert detail["validation"]["passed"] is True
    assert detail["validation"]["numeric"]["max_abs_diff"] < 1e-4
    assert detail["validation"]["parity"]["agreement"] >= 0.99
    listed = api.get(f"/api/export/{pid}/{eid}").json()
    assert [x["id"] for x in listed] == [body["export_id"]] and listed[0]["validation"]["passed"]
    assert Export.objects.get(id=body["export_id"]).validation_passed is True

    url = detail["download_url"]
    assert url == f"/api/export/{pid}/{eid}/{body['export_id']}/download"
    assert_error(anon_api.get(url), 401, "not_authenticated")
    response = api.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert detail["download_name"] in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert len(data) == detail["size"] and response["X-Checksum-SHA256"] == detail["sha256"]
    assert onnx.load_model_from_string(data).graph.input[0].name == "images"

    assert api.delete(f"/api/export/{pid}/{eid}/{body['export_id']}").status_code == 204
    assert not export_dir(workspace, pid, eid, body["export_id"]).exists()
    assert api.get(f"/api/export/{pid}/{eid}").json() == []
    assert not Export.objects.filter(id=body["export_id"]).exists()
    assert_error(api.get(url), 404, "not_found")


def test_every_endpoint_requires_auth(anon_api: Any, db_trained: tuple[str, str]) -> None:
    pid, eid = db_trained
    for method, url in [("get", f"/api/export/{pid}/"), ("get", f"/api/export/{pid}/{eid}"),
                        ("post", f"/api/export/{pid}/{eid}"), ("get", f"/api/export/{pid}/{eid}/x1"),
                        ("delete", f"/api/export/{pid}/{eid}/x1"), ("post", f"/api/predict/{pid}/{eid}")]:  # fmt: skip
        assert_error(getattr(anon_api, method)(url), 401, "not_authenticated")


def test_clear_4xx_errors(
    api: Any, db_project: str, workspace: Workspace, random_checkpoints: Any
) -> None:
    pid = db_project
    assert_error(start(api, pid, "nope"), 404, "not_found")
    assert_error(start(api, "nope-project", "exp1"), 404, "not_found")
    add_experiment(workspace, pid, "draft", status=ExperimentStatus.draft)
    assert_error(start(api, pid, "draft"), 409, "not_trained")
    add_experiment(workspace, pid, "running", status=ExperimentStatus.running,
                   checkpoints={"last.ckpt": random_checkpoints("mobilenet_v3_small")})  # fmt: skip
    assert_error(start(api, pid, "running"), 409, "experiment_running")
    add_experiment(
        workspace, pid, "exp1", checkpoints={"best.ckpt": random_checkpoints("mobilenet_v3_small")}
    )
    missing = start(api, pid, "exp1", checkpoint="last.ckpt")
    assert_error(missing, 404, "checkpoint_missing")
    assert missing.json()["error"]["details"]["available"] == ["best.ckpt"]
    assert_error(start(api, pid, "exp1", format="tflite"), 400, "unknown_format")
    assert_error(start(api, pid, "exp1", opset=99), 400, "bad_opset")
    assert_error(start(api, pid, "exp1", opset="seventeen"), 400, "bad_opset")
    assert_error(start(api, pid, "exp1", checkpoint="../../x.ckpt"), 400, "bad_checkpoint")
    assert_error(api.get(f"/api/export/{pid}/exp1/unknown1"), 404, "not_found")
    assert_error(api.get(f"/api/export/{pid}/exp1/..%2Fx"), 404, "not_found")
    assert_error(api.delete(f"/api/export/{pid}/exp1/unknown1"), 404, "not_found")
    exportable = api.get(f"/api/export/{pid}/").json()
    assert [e["id"] for e in exportable["experiments"]] == ["exp1"]
    assert {f["key"] for f in exportable["formats"]} == {"onnx", "torchscript"}


def test_predict_from_checkpoint_then_from_onnx(
    api: Any, db_trained: tuple[str, str], digits_files: Any
) -> None:
    pid, eid = db_trained
    samples, _ = digits_files
    image = next(s for s in samples if s.subset == "test").image_path.read_bytes()
    url = f"/api/predict/{pid}/{eid}"
    first = api.post(url, {"image": io.BytesIO(image), "top_k": 3}, format="multipart")
    assert first.status_code == 200, first.content
    body = first.json()
    assert (
        body["source"] == "checkpoint"
        and body["checkpoint"] == "best.ckpt"
        and body["export_id"] is None
    )
    assert len(body["predictions"]) == 3 == body["top_k"]
    probs = [p["probability"] for p in body["predictions"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert body["predictions"][0]["class_name"] == str(body["predictions"][0]["class_id"])

    export = exported(api, pid, eid)
    second = api.post(url, {"image": io.BytesIO(image), "top_k": 3}, format="multipart").json()
    assert second["source"] == "onnx" and second["export_id"] == export["id"]
    assert [p["class_id"] for p in second["predictions"]] == [
        p["class_id"] for p in body["predictions"]
    ]
    for a, b in zip(second["predictions"], body["predictions"], strict=True):
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-4)
    forced = api.post(
        url, {"image": io.BytesIO(image), "source": "checkpoint"}, format="multipart"
    ).json()
    assert forced["source"] == "checkpoint" and len(forced["predictions"]) == 5


def test_predict_rejects_bad_uploads(api: Any, db_trained: tuple[str, str]) -> None:
    pid, eid = db_trained
    url = f"/api/predict/{pid}/{eid}"
    corrupt = io.BytesIO(png()[:60])
    corrupt.name = "broken.png"
    response = api.post(url, {"image": corrupt}, format="multipart")
    assert_error(response, 400, "bad_image")
    assert response.json()["error"]["message"] == "Not an image (JPEG, PNG, …): broken.png"
    text = io.BytesIO(b"hello, not an image")
    text.name = "notes.txt"
    response = api.post(url, {"image": text}, format="multipart")
    assert_error(response, 400, "bad_image")
    assert response.json()["error"]["message"] == "Not an image (JPEG, PNG, …): notes.txt"
    assert_error(api.post(url, {}, format="multipart"), 400, "bad_image")
    assert_error(
        api.post(url, {"image": io.BytesIO(png()), "source": "tflite"}, format="multipart"),
        400,
        "validation_error",
    )
    assert_error(
        api.post(url, {"image": io.BytesIO(png()), "source": "onnx"}, format="multipart"),
        404,
        "no_passing_export",
    )


def test_tampered_export_is_refused_by_predict(
    api: Any, db_trained: tuple[str, str], workspace: Workspace
) -> None:
    pid, eid = db_trained
    export = exported(api, pid, eid)
    path = export_dir(workspace, pid, eid, export["id"]) / "model.onnx"
    model = onnx.load(str(path))
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../../../secret"
    path.write_bytes(model.SerializeToString())
    response = api.post(
        f"/api/predict/{pid}/{eid}", {"image": io.BytesIO(png())}, format="multipart"
    )
    assert_error(response, 409, "unsafe_onnx")
    assert "../../../../secret" in response.json()["error"]["message"]


def test_cannot_delete_a_running_export(
    api: Any, db_trained: tuple[str, str], workspace: Workspace
) -> None:
    pid, eid = db_trained
    body = start(api, pid, eid).json()  # queued; nobody runs it
    response = api.delete(f"/api/export/{pid}/{eid}/{body['export_id']}")
    assert_error(response, 409, "export_running")
    api.post(f"/api/jobs/{body['job_id']}/cancel")  # the job is cancelled while queued
    shown = api.get(f"/api/export/{pid}/{eid}/{body['export_id']}").json()
    assert shown["status"] == "cancelled" and "ended without finishing" in shown["error"]
    assert api.delete(f"/api/export/{pid}/{eid}/{body['export_id']}").status_code == 204


def test_torchscript_through_the_api(api: Any, db_trained: tuple[str, str]) -> None:
    pid, eid = db_trained
    export = exported(api, pid, eid, format="torchscript", checkpoint="last.ckpt")
    assert export["format"] == "torchscript" and export["opset"] is None
    assert export["validation"]["passed"] and export["download_name"].endswith(".pt")
    assert Path(export["download_url"]).name == "download"


def test_pages_and_api_do_not_import_torch() -> None:
    """Serving the URL map must not pay torch's import (seconds) on the first request."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys, django; django.setup(); import studio.urls, apps.exports.api, "
        "apps.exports.views, apps.exports.services; "
        "print(sorted(m for m in ('torch', 'lightning', 'onnx', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
                         timeout=120, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_damaged_export_is_listed_and_deletable_and_mirror_rebuilds(
    api: Any, db_project: str, workspace: Workspace, random_checkpoints: Any
) -> None:
    from apps.exports.services import mirror_rebuild
    from studio.ml.export.runner import plan_export

    pid = db_project
    add_experiment(
        workspace, pid, "exp1", checkpoints={"best.ckpt": random_checkpoints("mobilenet_v3_small")}
    )
    planned = plan_export(workspace, pid, "exp1", fmt="onnx")
    broken = export_dir(workspace, pid, "exp1", "broken1")
    broken.mkdir(parents=True)
    (broken / "export.json").write_text("{not json")
    listed = {x["id"]: x for x in api.get(f"/api/export/{pid}/exp1").json()}
    assert listed["broken1"]["damaged"] is True and listed["broken1"]["damage_reason"]
    assert listed[planned.id]["status"] == "queued"
    Export.objects.all().delete()
    assert mirror_rebuild() == 2
    assert Export.objects.get(id="broken1").damaged
    assert api.delete(f"/api/export/{pid}/exp1/broken1").status_code == 204
    assert [x["id"] for x in api.get(f"/api/export/{pid}/exp1").json()] == [planned.id]


def test_page_shows_a_failed_validation_as_failed(
    api: Any, client: Any, user: Any, db_trained: tuple[str, str], workspace: Workspace
) -> None:
    from studio.ml.export.runner import plan_export, run_export

    pid, eid = db_trained
    planned = plan_export(workspace, pid, eid, fmt="onnx")
    run_export(workspace, pid, eid, planned.id, atol=0.0, rtol=0.0)
    client.force_login(user)
    html = client.get(f"/projects/{pid}/export/").content.decode()
    assert "✗ Failed" in html and "Validation FAILED" in html and "✓ Passed" not in html
    fragment = client.get(f"/projects/{pid}/export/list?experiment={eid}").content.decode()
    assert "✗ Failed" in fragment and planned.id in fragment
