"""``manage.py import_dataset <project_id> <path> --format …``: import a server folder in-process.

Run by the server's operator, so unlike the GUI/API it is not limited to the import roots:
any folder this process can read, except Studio's workspace (only its ``import/`` folder),
the folders that contain the workspace, and ``/proc``, ``/sys``, ``/dev``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from tqdm import tqdm

from apps.core.commands import StudioCommand
from apps.datasets.services import import_inline
from studio.datasets.importers import FORMATS


class Command(StudioCommand):
    help = (
        "Import images into a project's dataset from a folder on this machine (no worker needed)."
    )
    # System checks would import every URL module (and all that the views import) for nothing.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")
        parser.add_argument(
            "path",
            help="folder (or the CSV/COCO JSON file) to import: any folder but the workspace",
        )
        parser.add_argument("--format", required=True, choices=list(FORMATS), dest="fmt")
        parser.add_argument(
            "--annotations", default="", help="CSV or COCO JSON file (default: found in the folder)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        bar: tqdm[Any] | None = None

        def progress(done: int, total: int, message: str) -> None:
            nonlocal bar
            if opts["no_progress"] or total == 0:
                return
            if bar is None:
                bar = tqdm(total=total, unit="img", desc="Importing", file=self.stderr._out)
            bar.update(done - bar.n)

        try:
            report = import_inline(
                opts["project_id"], opts["path"], opts["fmt"], opts["annotations"], progress
            )
        finally:
            if bar is not None:
                bar.close()
        for item in report.issues:
            self.stdout.write(f"  {item.severity}: {item.file}: {item.reason}")
        self.stdout.write(self.style.SUCCESS(
            f"Import {report.id}: {report.added} added, {report.duplicates} duplicates, "
            f"{report.skipped} skipped ({len(report.issues)} report lines)."
        ))  # fmt: skip
