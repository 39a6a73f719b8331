"""ONNX: ``torch.onnx.export`` with a dynamic batch axis and the preprocessing in metadata.

Which exporter (measured with torch 2.14, offline, CPU):

- opset <= 20: the TorchScript-based exporter (``dynamo=False``). It writes exactly the
  requested opset and takes ~1-4 s for the catalog models.
- opset 21-23: the ``torch.export``-based exporter (``dynamo=True``, needs onnxscript);
  the TorchScript-based one stops at opset 20. It takes 10-40 s here, and below opset 18 it
  cannot down-convert torchvision graphs (its version converter fails and leaves opset
  18), which is why it is not used for the default opset 17.

The file is self-contained (no external data; models over 2 GB are refused), checked with
``onnx.checker`` and written atomically. ``opset_used`` reports the default-domain opset
actually in the file.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from studio import __version__
from studio.errors import StudioError
from studio.ml.export.base import (
    INPUT_NAME,
    LEGACY_OPSET_MAX,
    OPSET_DEFAULT,
    ExportFormat,
    ExportSpec,
    LoadedExport,
    WrittenFile,
    inference_metadata,
    preprocessing_sentence,
)
from studio.ml.export.onnx_safety import model_metadata, open_session
from studio.storage.jsonio import write_bytes_atomic

if TYPE_CHECKING:
    import numpy as np
    import onnx
    import torch
    from torch import nn

MAX_PROTO_BYTES = 2**31 - 1  # protobuf's limit for one message
LEGACY = "torch.onnx (TorchScript-based, dynamo=False)"
DYNAMO = "torch.onnx (torch.export-based, dynamo=True)"


def _export_legacy(
    model: nn.Module, example: torch.Tensor, opset: int, output: str
) -> onnx.ModelProto:
    import onnx
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation notice of the legacy exporter
        torch.onnx.export(
            model,
            (example,),
            buffer,  # type: ignore[arg-type]  # file objects work with dynamo=False
            input_names=[INPUT_NAME],
            output_names=[output],
            opset_version=opset,
            dynamic_axes={INPUT_NAME: {0: "batch"}, output: {0: "batch"}},
            do_constant_folding=True,
            dynamo=False,
        )
    return onnx.load_model_from_string(buffer.getvalue())


def _export_dynamo(
    model: nn.Module, example: torch.Tensor, opset: int, output: str
) -> onnx.ModelProto:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[output],
            opset_version=opset,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=65536)},),
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    assert program is not None
    proto: onnx.ModelProto = program.model_proto
    return proto


def default_opset(model: onnx.ModelProto) -> int | None:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return None


class OnnxFormat(ExportFormat):
    key: ClassVar[str] = "onnx"
    extension: ClassVar[str] = ".onnx"

    def export(
        self, model: nn.Module, example: torch.Tensor, dest: Path, spec: ExportSpec
    ) -> WrittenFile:
        import onnx

        opset = spec.opset or OPSET_DEFAULT
        exporter = LEGACY if opset <= LEGACY_OPSET_MAX else DYNAMO
        metadata = inference_metadata(spec)
        output = metadata["output_name"]  # named by the task ("logits", "score", "values")
        try:
            if exporter == LEGACY:
                proto = _export_legacy(model, example, opset, output)
            else:
                proto = _export_dynamo(model, example, opset, output)
        except StudioError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StudioError(
                f"torch.onnx could not export {spec.meta.model} at opset {opset}: {first}",
                code="export_failed",
                details={"exporter": exporter, "type": type(exc).__name__},
            ) from exc
        onnx.helper.set_model_props(proto, metadata)  # replaces any others
        proto.producer_name = "Studio"
        proto.producer_version = __version__
        proto.doc_string = (
            f"{spec.meta.model} {spec.meta.task} model exported by Studio {__version__}. "
            + preprocessing_sentence(
                spec.meta.image_size, spec.meta.mean, spec.meta.std, spec.normalize
            )
        )
        if proto.ByteSize() > MAX_PROTO_BYTES:
            raise StudioError(
                "The model is larger than 2 GB, the limit of a self-contained ONNX file",
                code="export_too_large",
            )
        try:
            onnx.checker.check_model(proto)
        except Exception as exc:
            raise StudioError(
                f"The exported ONNX graph is not valid: {exc}", code="export_failed"
            ) from exc
        write_bytes_atomic(Path(dest), proto.SerializeToString())
        used = default_opset(proto)
        notes = [] if used == opset else [f"requested opset {opset}, the file has opset {used}"]
        return WrittenFile(exporter=exporter, opset_used=used, notes=notes)

    def load(self, path: Path, folder: Path, *, threads: int | None = None) -> LoadedExport:
        return load_onnx(path, folder, threads=threads)


def load_onnx(
    path: Path, folder: Path, *, threads: int | None = None, expected_sha256: str | None = None
) -> LoadedExport:
    """A checked ONNX Runtime session as a runner (see :mod:`.onnx_safety`)."""
    import numpy as np

    session, model = open_session(path, folder, threads=threads, expected_sha256=expected_sha256)
    input_name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = session.run(None, {input_name: np.ascontiguousarray(x, np.float32)})[0]
        return out

    return LoadedExport(run=run, metadata=model_metadata(model))
