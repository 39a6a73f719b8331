"""Refuse ONNX files that would make ONNX Runtime read files outside their export folder.

An ONNX tensor may keep its bytes in an *external data* file named by a ``location``
relative to the model file. A tampered model could name ``../../secrets`` or an absolute
path, and ONNX Runtime would read it (and, through the outputs, leak it). Studio never
writes external data, but it still checks every model before ONNX Runtime sees it:

- the file is parsed with ``onnx`` without following external data;
- every tensor (initializers, sparse initializers, ``Constant`` attributes, nested
  subgraphs and functions) with ``data_location == EXTERNAL`` must name a relative
  ``location`` with no ``..`` and no absolute path, that resolves (symlinks followed)
  to a regular file inside the folder; anything else raises :class:`UnsafeModel`;
- ONNX Runtime then gets the checked **bytes** (external data, if any, loaded by us
  from the checked files), never the path, so the file cannot change in between.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from studio.errors import Damaged, NotFound

if TYPE_CHECKING:
    import onnx
    import onnxruntime


class UnsafeModel(Damaged):
    """The ONNX file points outside its folder (or is otherwise not safe to open)."""

    code = "unsafe_onnx"


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("sparse_tensor"):
            yield attr.sparse_tensor.values
            yield attr.sparse_tensor.indices
        for sparse in attr.sparse_tensors:
            yield sparse.values
            yield sparse.indices
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for sub in attr.graphs:
            yield from _graph_tensors(sub)


def all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of the model, wherever it hides."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from _node_tensors(node)


def _location(tensor: onnx.TensorProto) -> str:
    for entry in tensor.external_data:
        if entry.key == "location":
            return str(entry.value)
    return ""


def _inside(folder: Path, location: str, tensor_name: str) -> Path:
    """The checked file a ``location`` names, or ``UnsafeModel``."""
    why = ""
    if not location:
        why = "has no location"
    elif PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute():
        why = f"names the absolute path {location!r}"
    elif ".." in PurePosixPath(location.replace("\\", "/")).parts:
        why = f"names {location!r}, which leaves the export folder"
    if not why:
        base = folder.resolve()
        target = (base / location).resolve()
        if base not in target.parents:
            why = f"names {location!r}, which resolves outside the export folder"
        elif not target.is_file():
            why = f"names {location!r}, which is not a file in the export folder"
    if why:
        raise UnsafeModel(
            f"Refusing to open this ONNX file: tensor {tensor_name!r} keeps its data in an "
            f"external file and {why}. Studio never writes such files; the file was changed "
            "after export. Delete the export and export again.",
            details={"tensor": tensor_name, "location": location},
        )
    return target


def check_external_data(model: onnx.ModelProto, folder: Path) -> list[Path]:
    """The external-data files the model uses (all checked inside ``folder``)."""
    import onnx

    used: list[Path] = []
    for tensor in all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            used.append(_inside(folder, _location(tensor), tensor.name))
    return used


def read_checked(
    path: Path, folder: Path, expected_sha256: str | None = None
) -> tuple[bytes, onnx.ModelProto]:
    """Read, parse and check an ONNX file; returns self-contained bytes and the parsed model.

    ``expected_sha256`` (from ``export.json``) is compared after the external-data check,
    so a tampered file is reported for what it does, not only as "changed".
    """
    import onnx
    from onnx import external_data_helper

    folder = Path(folder)
    real = Path(path).resolve()
    if folder.resolve() not in real.parents:
        raise UnsafeModel(f"{Path(path).name} is not inside its export folder")
    try:
        data = real.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"The exported file {Path(path).name} is missing") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf DecodeError and friends
        raise Damaged(f"{Path(path).name} is not a readable ONNX file: {exc}") from exc
    external = check_external_data(model, folder)
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise Damaged(
            f"{Path(path).name} changed since it was exported (SHA-256 differs); "
            "delete the export and export again",
            code="export_modified",
        )
    if external:  # inline the checked files so ONNX Runtime never resolves a path itself
        external_data_helper.load_external_data_for_model(model, str(folder.resolve()))
        data = model.SerializeToString()
    return data, model


def session_options(threads: int | None = None) -> onnxruntime.SessionOptions:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initializers are noise here
    return options


def open_session(
    path: Path, folder: Path, *, threads: int | None = None, expected_sha256: str | None = None
) -> tuple[onnxruntime.InferenceSession, onnx.ModelProto]:
    """A CPU ``InferenceSession`` of a checked ONNX file, and its parsed model."""
    import onnxruntime as ort

    data, model = read_checked(path, folder, expected_sha256)
    try:
        session = ort.InferenceSession(
            data, sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise Damaged(f"ONNX Runtime cannot load {Path(path).name}: {exc}") from exc
    return session, model


def model_metadata(model: Any) -> dict[str, str]:
    """``metadata_props`` of a parsed model as a dict."""
    return {p.key: p.value for p in model.metadata_props}
