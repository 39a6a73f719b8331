"""``manage.py export <project_id> <experiment_id> --format onnx [--checkpoint best.ckpt] [--opset 17]
[--threshold 0.5]`` (``--threshold``: anomaly detection only).

Runs the export in this process (no worker needed), prints progress, the file's path and
the validation result. Exit status: 0 = exported and validated, 1 = error (a sentence on
stderr), 2 = exported but validation FAILED (the file is kept and listed as failed).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.core.workspace import ws
from apps.exports import services
from studio.ml.export import FORMATS
from studio.ml.export.store import model_path


class Command(StudioCommand):
    help = "Export an experiment's checkpoint (ONNX or TorchScript), validate it, print its path."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")
        parser.add_argument("experiment_id")
        parser.add_argument("--format", default="onnx", help=f"one of: {', '.join(FORMATS)}")
        parser.add_argument("--checkpoint", default="best.ckpt", help="checkpoint file name")
        parser.add_argument("--opset", default=None, help="ONNX opset (default 17)")
        parser.add_argument(
            "--threshold", default=None,
            help="anomaly detection: threshold (0-1) stored in the file "
            "(default: the evaluation's, else 0.5)",
        )  # fmt: skip

    def handle(self, *args: Any, **opts: Any) -> None:
        last: dict[str, Any] = {"message": None, "tenth": -1}

        def progress(done: int, total: int, message: str) -> None:
            tenth = (10 * done // total) if total else 0
            stage = message.split(":")[0]
            if stage != last["message"] or tenth != last["tenth"]:
                last["message"], last["tenth"] = stage, tenth
                self.stdout.write(f"[{done}/{total}] {message}")

        export = services.export_inline(
            opts["project_id"], opts["experiment_id"], opts["format"],
            opts["checkpoint"], opts["opset"], on_progress=progress,
            options={"threshold": opts["threshold"]},
        )  # fmt: skip
        path = model_path(ws(), export)
        self.stdout.write(
            f"Export {export.id}: {path} ({export.size:,} bytes, sha256 {export.sha256})"
        )
        v = export.validation
        if v is not None and v.passed:
            self.stdout.write(self.style.SUCCESS(v.message))
            return
        self.stderr.write(v.message if v else "The export was not validated.")
        sys.exit(2)
