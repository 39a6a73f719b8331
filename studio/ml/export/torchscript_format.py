"""TorchScript: ``torch.jit.trace`` saved with the metadata as extra file ``studio.json``.

The archive loads with ``torch.jit.load`` in Python or LibTorch (C++) without Studio's code:
``torch.jit.load(path, _extra_files={"studio.json": ""})`` fills in the same metadata as the
ONNX file's ``metadata_props``. torch 2.14 marks ``torch.jit`` deprecated (it still works
and is what LibTorch deployments load); its warnings are silenced here.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from studio.errors import Damaged, NotFound, StudioError
from studio.ml.export.base import (
    ExportFormat,
    ExportSpec,
    LoadedExport,
    WrittenFile,
    inference_metadata,
)
from studio.storage.jsonio import write_bytes_atomic

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn

EXTRA_FILE = "studio.json"
EXPORTER = "torch.jit.trace"


class TorchScriptFormat(ExportFormat):
    key: ClassVar[str] = "torchscript"
    extension: ClassVar[str] = ".pt"

    def export(
        self, model: nn.Module, example: torch.Tensor, dest: Path, spec: ExportSpec
    ) -> WrittenFile:
        import torch

        extra = {EXTRA_FILE: json.dumps(inference_metadata(spec), ensure_ascii=False)}
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")
                # check_trace re-runs the model to compare; validation does that better
                traced = torch.jit.trace(model, example, check_trace=False)
                torch.jit.save(traced, buffer, _extra_files=extra)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StudioError(
                f"torch.jit.trace could not export {spec.meta.model}: {first}",
                code="export_failed",
            ) from exc
        write_bytes_atomic(Path(dest), buffer.getvalue())
        return WrittenFile(exporter=EXPORTER)

    def load(self, path: Path, folder: Path, *, threads: int | None = None) -> LoadedExport:
        return load_torchscript(path, folder)


def load_torchscript(path: Path, folder: Path) -> LoadedExport:
    """The archive as a runner (CPU, inference mode) plus its ``studio.json`` metadata."""
    import numpy as np
    import torch

    real = Path(path).resolve()
    if Path(folder).resolve() not in real.parents:
        raise Damaged(f"{Path(path).name} is not inside its export folder")
    if not real.is_file():
        raise NotFound(f"The exported file {Path(path).name} is missing")
    extra = {EXTRA_FILE: ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(real), map_location="cpu", _extra_files=extra)
    except Exception as exc:
        raise Damaged(f"{real.name} is not a loadable TorchScript archive: {exc}") from exc
    module.eval()
    try:
        metadata = {str(k): str(v) for k, v in json.loads(extra[EXTRA_FILE] or "{}").items()}
    except (ValueError, AttributeError):
        metadata = {}

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
        result: np.ndarray = out.float().numpy()
        return result

    return LoadedExport(run=run, metadata=metadata)
