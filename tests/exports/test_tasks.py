"""Export of anomaly detection and regression models: the file's output, metadata, validation
and the try-it answer, through the API (jobs run in-process with ``job_execute``).

One tiny model per task (ResNet-18 at 16 px, 2 epochs, 120 digits) is trained per session:
anomaly = digit 0 is ``good``, every other digit a ``defect``; regression = the image's mean
brightness (one target).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from apps.core.services import job_execute
from studio.errors import ValidationFailed
from studio.ml.data import Sample
from studio.storage.dataset_schemas import Annotations, ClassInfo, DatasetFile
from studio.storage.paths import Workspace
from tests.exports.helpers import add_experiment, install_dataset
from tests.exports.test_api import start
from tests.members import alice_owns
from tests.ml.digits import make_digits
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db
EVALUATION_THRESHOLD = 0.37


@dataclass(frozen=True)
class TaskRun:
    task: str
    samples: list[Sample]
    dataset: DatasetFile
    checkpoint: Path


def _as_anomaly(samples: list[Sample], dataset: DatasetFile) -> DatasetFile:
    """Digit 0 is ``good``, every other digit a ``defect``."""
    for s in samples:
        s.record.annotations.label = 0 if s.record.annotations.label == 0 else 1
    classes = [ClassInfo(id=0, name="good", color="#000000"),
               ClassInfo(id=1, name="defect", color="#ff0000")]  # fmt: skip
    return dataset.model_copy(update={"classes": classes})


def _as_regression(samples: list[Sample], dataset: DatasetFile) -> DatasetFile:
    """One target: the image's mean brightness (0-255)."""
    from PIL import Image

    for s in samples:
        value = float(np.asarray(Image.open(s.image_path)).mean())
        s.record.annotations = Annotations(target=[value])
    return dataset.model_copy(update={"classes": [], "target_names": ["brightness"]})


def _train(task: str, folder: Path, relabel: Callable[..., DatasetFile]) -> TaskRun:
    import torch

    from studio.ml.tasks.registry import load_task
    from studio.ml.train import run_training

    samples, dataset = make_digits(folder / "images", limit=120)
    dataset = relabel(samples, dataset)
    config = load_task(task).make_config(
        {"model": "resnet18", "image_size": 16, "batch_size": 16, "epochs": 2, "warmup_epochs": 0}
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see tests/exports/conftest.py: faster on a busy shared CPU
    try:
        run_training(folder / "run", samples, dataset, config, task, lambda kind, data: None,
                     lambda: False, cache_dir=folder / "cache")  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return TaskRun(task, samples, dataset, folder / "run" / "checkpoints" / "best.ckpt")


@pytest.fixture(scope="session")
def anomaly_run(tmp_path_factory: pytest.TempPathFactory) -> TaskRun:
    return _train("anomaly_detection", tmp_path_factory.mktemp("export-anomaly"), _as_anomaly)


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> TaskRun:
    return _train("regression", tmp_path_factory.mktemp("export-regression"), _as_regression)


def _experiment(ws: Workspace, run: TaskRun) -> tuple[str, str]:
    """A project of the run's task with its dataset and a completed experiment ``exp1``."""
    from apps.projects.selectors import project_get
    from studio.storage import project_store

    pid = project_store.create(ws, "Digits", run.task, members=alice_owns()).id
    install_dataset(ws, pid, run.samples, run.dataset)
    add_experiment(ws, pid, "exp1", checkpoints={"best.ckpt": run.checkpoint},
                   model="resnet18", task=run.task)  # fmt: skip
    project_get(pid)  # the mirror row the API needs
    return pid, "exp1"


def _write_evaluation(ws: Workspace, pid: str, eid: str, checkpoint: Path) -> None:
    """A completed evaluation of best.ckpt whose anomaly threshold is EVALUATION_THRESHOLD."""
    from studio.ml.evaluation_files import evaluation_paths
    from studio.storage.evaluation_schemas import (
        AnomalyMetrics,
        CheckpointRef,
        EvaluationAggregate,
        EvaluationConfig,
        EvaluationRecord,
    )
    from studio.storage.jsonio import write_json_atomic

    paths = evaluation_paths(ws, pid, eid)
    metrics = AnomalyMetrics(
        count=24, anomalous=21, auroc=0.9, average_precision=0.9, threshold=EVALUATION_THRESHOLD,
        f1=0.9, precision=0.9, recall=0.9, youden_threshold=None, best_f1_threshold=None,
    )  # fmt: skip
    aggregate = EvaluationAggregate(checkpoint="best.ckpt", task="anomaly_detection",
                                    anomaly={"all": metrics}, threshold_source="val")  # fmt: skip
    record = EvaluationRecord(
        project_id=pid, experiment_id=eid, run_id="r1", status="completed",  # type: ignore[arg-type]
        config=EvaluationConfig(checkpoint="best.ckpt", batch_size=64), task="anomaly_detection",
        checkpoint=CheckpointRef(name="best.ckpt", size=checkpoint.stat().st_size),
    )  # fmt: skip
    paths.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(paths.aggregate, aggregate)
    write_json_atomic(paths.record, record)


def _exported(api: Any, pid: str, eid: str, **body: Any) -> dict[str, Any]:
    response = start(api, pid, eid, **body)
    assert response.status_code == 202, response.content
    job_execute(response.json()["job_id"])
    export = api.get(f"/api/export/{pid}/{eid}/{response.json()['export_id']}").json()
    assert export["status"] == "completed", export["error"]
    assert export["validation"]["passed"], export["validation"]["message"]
    return export


def _onnx(ws: Workspace, pid: str, eid: str, export: dict[str, Any]) -> ort.InferenceSession:
    from studio.ml.export.store import export_dir

    path = export_dir(ws, pid, eid, export["id"]) / export["file"]
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _test_batch(run: TaskRun) -> tuple[np.ndarray, Any, Any]:
    """``(model input of the test images, eval-mode model, checkpoint metadata)``."""
    from studio.ml.checkpoints import load_for_inference
    from studio.ml.data import decode_image
    from studio.ml.export.validate import Preprocess

    model, meta = load_for_inference(run.checkpoint)
    images = np.stack([decode_image(s.image_path, meta.image_size)
                       for s in run.samples if s.subset == "test"])  # fmt: skip
    return Preprocess(meta.image_size, meta.mean, meta.std).to_input(images), model, meta


def _png(run: TaskRun) -> io.BytesIO:
    return io.BytesIO(next(s for s in run.samples if s.subset == "test").image_path.read_bytes())


def test_anomaly_export_outputs_the_score_and_carries_the_threshold(
    api: Any, client: Any, user: Any, workspace: Workspace, anomaly_run: TaskRun
) -> None:
    import torch

    pid, eid = _experiment(workspace, anomaly_run)
    _write_evaluation(workspace, pid, eid, anomaly_run.checkpoint)
    export = _exported(api, pid, eid)
    assert export["output_name"] == "score" and export["agreement_label"] == "same verdict"
    threshold = {"threshold": repr(EVALUATION_THRESHOLD), "threshold_source": "evaluation"}
    assert export["settings"] == threshold and export["output"]["threshold"] == "0.37"
    v = export["validation"]
    assert v["numeric"]["atol"] == 1e-5 and "same verdict" in v["message"]
    assert v["parity"]["labelled"] == v["parity"]["images"] > 0  # good/defect labels

    session = _onnx(workspace, pid, eid, export)
    md = session.get_modelmeta().custom_metadata_map
    assert md["output_name"] == "score" == session.get_outputs()[0].name
    assert md["threshold"] == "0.37" and md["threshold_source"] == "evaluation"
    assert md["task"] == "anomaly_detection" and "threshold" in md["output"]
    x, model, _ = _test_batch(anomaly_run)
    scores = session.run(None, {"images": x})[0]
    with torch.inference_mode():
        expected = torch.sigmoid(model(torch.from_numpy(x))).numpy()
    assert scores.shape == (len(x), 1) and ((scores >= 0) & (scores <= 1)).all()
    np.testing.assert_allclose(scores, expected, atol=1e-5)

    # the option wins over the evaluation (TorchScript: the same metadata in studio.json)
    ts = _exported(api, pid, eid, format="torchscript", threshold=0.8)
    assert ts["settings"] == {"threshold": "0.8", "threshold_source": "option"}
    from studio.ml.export.store import export_dir
    from studio.ml.export.torchscript_format import load_torchscript

    folder = export_dir(workspace, pid, eid, ts["id"])
    assert load_torchscript(folder / ts["file"], folder).metadata["threshold"] == "0.8"
    for bad in (1.5, -0.1, "abc", True):
        response = start(api, pid, eid, threshold=bad)
        assert_error(response, 400, "bad_threshold")
        assert response.json()["error"]["details"]["threshold"]

    # try it: the newest passing ONNX export answers with the score and its verdict
    answer = api.post(f"/api/predict/{pid}/{eid}", {"image": _png(anomaly_run)}, format="multipart")
    body = answer.json()
    assert answer.status_code == 200 and body["source"] == "onnx", body
    assert body["output_name"] == "score" and 0 <= body["score"] <= 1
    assert body["threshold"] == EVALUATION_THRESHOLD and body["threshold_source"] == "evaluation"
    assert body["verdict"] == ("anomalous" if body["score"] >= EVALUATION_THRESHOLD else "good")
    assert body["anomalous"] is (body["verdict"] == "anomalous") and "predictions" not in body
    checkpoint = api.post(f"/api/predict/{pid}/{eid}",
                          {"image": _png(anomaly_run), "source": "checkpoint"}, format="multipart").json()  # fmt: skip
    assert checkpoint["score"] == pytest.approx(body["score"], abs=1e-5)
    assert checkpoint["threshold_source"] == "evaluation"

    client.force_login(user)
    html = client.get(f"/projects/{pid}/export/").content.decode()
    assert 'data-testid="threshold"' in html and "same verdict" in html.lower()


def test_anomaly_threshold_defaults_without_a_matching_evaluation(
    workspace: Workspace, anomaly_run: TaskRun
) -> None:
    from studio.ml.export.runner import plan_export

    pid, eid = _experiment(workspace, anomaly_run)
    assert plan_export(workspace, pid, eid, fmt="onnx").settings == {
        "threshold": "0.5", "threshold_source": "default",
    }  # fmt: skip
    _write_evaluation(workspace, pid, eid, anomaly_run.checkpoint)
    ckpt = workspace.project_dir(pid) / "experiments" / eid / "checkpoints" / "best.ckpt"
    ckpt.unlink()  # retrained: another file than the one evaluated
    ckpt.write_bytes(b"0")
    with pytest.raises(ValidationFailed):
        plan_export(workspace, pid, eid, fmt="onnx", options={"threshold": "2"})
    assert plan_export(workspace, pid, eid, fmt="onnx").settings["threshold_source"] == "default"


def test_regression_export_outputs_original_units(
    api: Any, workspace: Workspace, regression_run: TaskRun
) -> None:
    import torch

    pid, eid = _experiment(workspace, regression_run)
    export = _exported(api, pid, eid)
    assert export["output_name"] == "values" and export["settings"] == {}
    v = export["validation"]
    assert v["numeric"]["atol"] > 1e-5  # scaled by the outputs' magnitude (brightness ~50)
    assert v["parity"]["agreement"] == 1.0 and v["parity"]["accuracy_reference"] is None

    session = _onnx(workspace, pid, eid, export)
    md = session.get_modelmeta().custom_metadata_map
    x, model, meta = _test_batch(regression_run)
    state = meta.task_state
    assert md["output_name"] == "values" == session.get_outputs()[0].name
    assert json.loads(md["target_names"]) == ["brightness"]
    assert json.loads(md["target_mean"]) == pytest.approx(state["mean"])
    assert json.loads(md["target_std"]) == pytest.approx(state["std"])
    values = session.run(None, {"images": x})[0]
    with torch.inference_mode():
        normalised = model(torch.from_numpy(x)).numpy()
    expected = normalised * np.asarray(state["std"]) + np.asarray(state["mean"])
    assert values.shape == (len(x), 1)
    np.testing.assert_allclose(values, expected, rtol=1e-4, atol=1e-3)
    targets = [s.record.annotations.target[0] for s in regression_run.samples]  # type: ignore[index]
    assert min(targets) - 50 < float(values.mean()) < max(targets) + 50  # original units

    answer = api.post(
        f"/api/predict/{pid}/{eid}", {"image": _png(regression_run)}, format="multipart"
    )
    body = answer.json()
    assert answer.status_code == 200 and body["source"] == "onnx", body
    assert body["output_name"] == "values" and [v["name"] for v in body["values"]] == ["brightness"]
    forced = api.post(f"/api/predict/{pid}/{eid}", {"image": _png(regression_run),
                      "source": "checkpoint"}, format="multipart").json()  # fmt: skip
    assert forced["values"][0]["value"] == pytest.approx(body["values"][0]["value"], rel=1e-4)
    assert_error(start(api, pid, eid, threshold=0.5), 400, "unknown_option")


def test_tasks_that_cannot_be_exported_are_refused() -> None:
    from studio.ml.export.base import check_task

    for name in ("object_detection", "no_such_task"):
        with pytest.raises(ValidationFailed) as refused:
            check_task(name)
        assert refused.value.code == "task_not_exportable"
    assert check_task("regression").export_output(1)["output_name"] == "values"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_page_try_it_shows_the_verdict_and_the_values(
    logged_in_page: Any, workspace: Workspace, anomaly_run: TaskRun, regression_run: TaskRun
) -> None:
    """Anomaly: an export made in-process (no worker) answers; regression: the checkpoint."""
    from studio.ml.export.runner import plan_export, run_export
    from tests.conftest import screenshot

    page = logged_in_page

    def try_it(run: TaskRun, pid: str, source: str) -> None:
        page.goto(f"{page.base_url}/projects/{pid}/export/")
        photo = next(s for s in run.samples if s.subset == "test").image_path
        page.get_by_test_id("try-file").set_input_files(str(photo))
        page.get_by_test_id("try-result").wait_for(timeout=60_000)
        assert page.get_by_test_id("try-source").inner_text().startswith(source)

    pid, eid = _experiment(workspace, anomaly_run)
    planned = plan_export(workspace, pid, eid, fmt="onnx", options={"threshold": 0.6})
    run_export(workspace, pid, eid, planned.id)
    try_it(anomaly_run, pid, "ONNX export")
    assert page.get_by_test_id("row-threshold").inner_text() == "threshold 0.6"
    hint = page.get_by_test_id("threshold-hint").inner_text()
    assert hint.endswith("(best.ckpt has not been evaluated: evaluate it to pick one).")
    verdict = page.get_by_test_id("try-verdict-badge").inner_text()
    score = float(page.get_by_test_id("try-score").inner_text())
    assert verdict == ("Anomalous" if score >= 0.6 else "Good")
    screenshot(page, "export-anomaly-try-it")

    pid, _ = _experiment(workspace, regression_run)
    try_it(regression_run, pid, "Checkpoint")
    assert page.get_by_test_id("try-value").inner_text().startswith("brightness")
    assert page.get_by_test_id("threshold").count() == 0
    screenshot(page, "export-regression-try-it")
