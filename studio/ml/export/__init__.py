"""Export formats: the one place that lists them, like the task registry.

Adding a format = one module with one :class:`studio.ml.export.base.ExportFormat` subclass
plus one line in ``FORMATS`` (``"module:Class"``, imported lazily so listing formats never
imports torch or onnx). Everything else (the job, validation, the API, the page, the CLI)
works through the :class:`~studio.ml.export.base.ExportFormat` contract only.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.errors import ValidationFailed

if TYPE_CHECKING:
    from studio.ml.export.base import ExportFormat


@dataclass(frozen=True)
class FormatInfo:
    key: str  # stored in export.json; never rename one
    label: str
    description: str
    implementation: str  # "package.module:Class"
    uses_opset: bool = False  # the ``opset`` option applies (ONNX)


FORMATS: dict[str, FormatInfo] = {
    info.key: info
    for info in (
        FormatInfo("onnx", "ONNX", "Runs anywhere with ONNX Runtime (Python, C++, C#, Java, JS); preprocessing is stored in the file.", "studio.ml.export.onnx_format:OnnxFormat", uses_opset=True),
        FormatInfo("torchscript", "TorchScript", "For PyTorch / LibTorch without Studio's code; metadata in the archive's extra files.", "studio.ml.export.torchscript_format:TorchScriptFormat"),
    )
}  # fmt: skip

DEFAULT_FORMAT = "onnx"


def format_info(key: str) -> FormatInfo:
    """The registry entry, or ``ValidationFailed`` on ``format`` naming the choices."""
    info = FORMATS.get(key) if isinstance(key, str) else None
    if info is None:
        raise ValidationFailed(
            f"Unknown export format {key!r}",
            code="unknown_format",
            details={"format": [f"Choose one of: {', '.join(FORMATS)}"]},
        )
    return info


def get_format(key: str) -> ExportFormat:
    """An instance of the format's implementation (imports its module on first use)."""
    module, _, attr = format_info(key).implementation.partition(":")
    cls: Any = getattr(importlib.import_module(module), attr)
    instance: ExportFormat = cls()
    return instance


def describe_formats() -> list[dict[str, Any]]:
    """Plain JSON for the API and the page (no torch import)."""
    from studio.ml.export.base import OPSET_DEFAULT, OPSET_MAX, OPSET_MIN

    return [
        {
            "key": info.key,
            "label": info.label,
            "description": info.description,
            "opset": {"min": OPSET_MIN, "max": OPSET_MAX, "default": OPSET_DEFAULT}
            if info.uses_opset
            else None,
        }
        for info in FORMATS.values()
    ]
