"""The framework-free export core: every catalog model, validation, TorchScript, safety."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from studio.errors import Conflict, NotFound, ValidationFailed
from studio.ml.catalog import CATALOG
from studio.ml.export import get_format
from studio.ml.export.base import check_opset
from studio.ml.export.onnx_safety import UnsafeModel, open_session
from studio.ml.export.runner import plan_export, run_export
from studio.ml.export.store import export_dir, load_export, model_path
from studio.storage.experiment_schemas import ExperimentStatus
from studio.storage.paths import Workspace
from tests.exports.helpers import add_experiment

ROOT = Path(__file__).resolve().parents[2]
FAST_MODELS = {"resnet18", "mobilenet_v3_small"}


def _export(ws: Workspace, pid: str, eid: str, fmt: str = "onnx", **kw: Any) -> Any:
    planned = plan_export(ws, pid, eid, fmt=fmt, **kw)
    return run_export(ws, pid, eid, planned.id)


@pytest.mark.parametrize(
    "key",
    [k if k in FAST_MODELS else pytest.param(k, marks=pytest.mark.slow) for k in CATALOG],
)
def test_every_catalog_model_exports_and_validates(
    workspace: Workspace, project_id: str, random_checkpoints: Any, key: str
) -> None:
    add_experiment(
        workspace, project_id, "exp1", checkpoints={"best.ckpt": random_checkpoints(key)}, model=key
    )
    export = _export(workspace, project_id, "exp1")
    assert export.status == "completed", export.error
    v = export.validation
    assert v is not None and v.passed, v
    assert v.numeric and v.numeric.images == 8 and v.numeric.source == "test"
    assert v.numeric.max_abs_diff < 1e-3
    assert v.parity and v.parity.subset == "test" and v.parity.images == 30
    path = model_path(workspace, export)
    assert path.name == "model.onnx" and path.stat().st_size == export.size
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["class_names"]) == [str(i) for i in range(10)]
    assert props["image_size"] == "32" and props["input_layout"] == "NCHW"
    assert props["input_dtype"] == "float32" and props["task"] == "classification"
    assert json.loads(props["mean"]) == pytest.approx([0.485, 0.456, 0.406])
    assert props["experiment_id"] == "exp1" and props["checkpoint"] == "best.ckpt"
    assert props["studio_version"] and "softmax" in props["output"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert export.opset == export.opset_used == 17
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def test_trained_model_parity_is_at_least_99_percent(
    workspace: Workspace, trained: tuple[str, str]
) -> None:
    pid, eid = trained
    export = _export(workspace, pid, eid, checkpoint="best.ckpt")
    v = export.validation
    assert v is not None and v.passed
    assert v.parity is not None and v.parity.agreement >= 0.99 and v.parity.images == 30
    assert (
        v.parity.accuracy_reference is not None and v.parity.accuracy_reference > 0.3
    )  # it learned
    assert abs(v.parity.accuracy_delta or 0.0) <= 1 / 30
    stored = load_export(workspace, pid, eid, export.id)  # export.json beside the file
    assert stored.validation == v and stored.sha256 and stored.timings.total_s > 0
    assert (export_dir(workspace, pid, eid, export.id) / "export.json").is_file()


def test_torchscript_round_trip(workspace: Workspace, trained: tuple[str, str]) -> None:
    import torch

    from studio.ml.checkpoints import load_for_inference

    pid, eid = trained
    export = _export(workspace, pid, eid, fmt="torchscript")
    assert export.validation and export.validation.passed and export.opset is None
    path = model_path(workspace, export)
    extra = {"studio.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in torch 2.14
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    meta = json.loads(extra["studio.json"])
    assert meta["image_size"] == "16" and json.loads(meta["class_names"])[3] == "3"
    reference, _ = load_for_inference(
        workspace.project_dir(pid) / "experiments" / eid / "checkpoints" / "best.ckpt"
    )
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(module(x), reference(x), rtol=1e-4, atol=1e-5)


def test_failed_validation_is_recorded_not_hidden(
    workspace: Workspace, trained: tuple[str, str]
) -> None:
    pid, eid = trained
    planned = plan_export(workspace, pid, eid, fmt="onnx")
    export = run_export(workspace, pid, eid, planned.id, atol=0.0, rtol=0.0)  # impossible tolerance
    assert export.status == "completed"
    assert export.validation and not export.validation.passed
    assert export.validation.message.startswith("Validation FAILED")
    assert not load_export(workspace, pid, eid, export.id).validation.passed  # type: ignore[union-attr]


def _tamper(path: Path, location: str) -> None:
    """Move the first initializer's bytes to an external ``location`` (as an attacker would)."""
    model = onnx.load(str(path))
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    path.write_bytes(model.SerializeToString())


def test_tampered_onnx_is_refused_before_onnxruntime(
    workspace: Workspace, project_id: str, random_checkpoints: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    add_experiment(
        workspace,
        project_id,
        "exp1",
        checkpoints={"best.ckpt": random_checkpoints("mobilenet_v3_small")},
    )
    export = _export(workspace, project_id, "exp1")
    path = model_path(workspace, export)
    original = path.read_bytes()
    (path.parent.parent / "secret.bin").write_bytes(b"\0" * 4096)
    opened: list[Any] = []
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: opened.append(a))
    for location in (
        "../secret.bin",
        "../../secret.bin",
        "/etc/passwd",
        "sub/../../x.bin",
        "C:\\x.bin",
    ):
        path.write_bytes(original)
        _tamper(path, location)
        with pytest.raises(UnsafeModel, match="external file") as caught:
            open_session(path, path.parent)
        assert caught.value.code == "unsafe_onnx" and "export again" in caught.value.message
        assert repr(location) in caught.value.message
    assert not opened  # ONNX Runtime never saw any of them


def test_external_data_inside_the_folder_is_allowed(
    workspace: Workspace, project_id: str, random_checkpoints: Any
) -> None:
    add_experiment(
        workspace,
        project_id,
        "exp1",
        checkpoints={"best.ckpt": random_checkpoints("mobilenet_v3_small")},
    )
    export = _export(workspace, project_id, "exp1")
    path = model_path(workspace, export)
    model = onnx.load(str(path))
    onnx.save_model(
        model, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0
    )
    session, _ = open_session(path, path.parent)
    out = session.run(None, {"images": np.zeros((2, 3, 32, 32), np.float32)})[0]
    assert out.shape == (2, 10)


def test_request_errors(workspace: Workspace, project_id: str, random_checkpoints: Any) -> None:
    with pytest.raises(NotFound):
        plan_export(workspace, project_id, "nope", fmt="onnx")
    add_experiment(workspace, project_id, "draft", status=ExperimentStatus.draft)
    with pytest.raises(Conflict, match="never trained"):
        plan_export(workspace, project_id, "draft", fmt="onnx")
    add_experiment(
        workspace, project_id, "exp1", checkpoints={"best.ckpt": random_checkpoints("resnet18")}
    )
    with pytest.raises(NotFound, match=r"no checkpoint last.ckpt \(it has: best.ckpt\)"):
        plan_export(workspace, project_id, "exp1", fmt="onnx", checkpoint="last.ckpt")
    with pytest.raises(ValidationFailed) as bad:
        plan_export(workspace, project_id, "exp1", fmt="tflite")
    assert bad.value.code == "unknown_format"
    for opset in (12, 24, "x", 17.5, True):
        with pytest.raises(ValidationFailed) as bad:
            check_opset(opset)
        assert bad.value.code == "bad_opset"
    with pytest.raises(ValidationFailed):
        plan_export(workspace, project_id, "exp1", fmt="onnx", checkpoint="../x.ckpt")
    assert check_opset("18") == 18


def test_readme_snippet_runs(
    workspace: Workspace, trained: tuple[str, str], digits_files: Any, tmp_path: Path, capsys: Any
) -> None:
    """The onnxruntime snippet of docs/export.md, executed as written against a real export."""
    from studio.ml.export import predict

    pid, eid = trained
    export = _export(workspace, pid, eid)
    text = (ROOT / "docs" / "export.md").read_text()
    match = re.search(r"<!-- snippet:onnxruntime -->\n```python\n(.*?)```", text, re.S)
    assert match, "docs/export.md lost its snippet marker"
    code = match.group(1)
    assert len(code.strip().splitlines()) <= 10
    samples, _ = digits_files
    photo = next(s for s in samples if s.subset == "test")
    path = model_path(workspace, export)
    code = code.replace('"model.onnx"', repr(str(path))).replace(
        '"photo.jpg"', repr(str(photo.image_path))
    )
    exec(compile(code, "README-snippet", "exec"), {})
    name, prob = capsys.readouterr().out.split()
    ours = predict.predict(
        predict.export_predictor(path, path.parent, "onnx", export.sha256),
        photo.image_path.read_bytes(),
        1,
    )["predictions"][0]
    assert name == ours["class_name"] and float(prob) == pytest.approx(
        ours["probability"], abs=1e-4
    )


@pytest.mark.slow
def test_dynamo_exporter_for_new_opsets(
    workspace: Workspace, project_id: str, random_checkpoints: Any
) -> None:
    add_experiment(
        workspace,
        project_id,
        "exp1",
        checkpoints={"best.ckpt": random_checkpoints("mobilenet_v3_small")},
    )
    export = _export(workspace, project_id, "exp1", opset=21)
    assert "dynamo=True" in export.exporter and export.opset_used == 21
    assert export.validation and export.validation.passed
    assert get_format("onnx").extension == ".onnx"


def test_cancel_leaves_no_file(
    workspace: Workspace, project_id: str, random_checkpoints: Any
) -> None:
    from studio.ml.export.runner import ExportCancelled

    add_experiment(
        workspace,
        project_id,
        "exp1",
        checkpoints={"best.ckpt": random_checkpoints("mobilenet_v3_small")},
    )
    planned = plan_export(workspace, project_id, "exp1", fmt="onnx")
    asked = iter([False, True])  # let the export be written, stop before validation
    with pytest.raises(ExportCancelled):
        run_export(workspace, project_id, "exp1", planned.id, should_stop=lambda: next(asked))
    stored = load_export(workspace, project_id, "exp1", planned.id)
    assert stored.status == "cancelled" and stored.file is None and stored.error
    assert not (export_dir(workspace, project_id, "exp1", planned.id) / "model.onnx").exists()
    with pytest.raises(Conflict):  # an export runs once
        run_export(workspace, project_id, "exp1", planned.id)
