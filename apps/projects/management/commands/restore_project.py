from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.core.workspace import ws
from apps.projects.services import project_restore
from studio.storage.project_store import trash_entries


class Command(StudioCommand):
    help = "Restore a project from the trash; without an argument, list the trash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "entry", nargs="?", help="trash entry name, as printed by delete_project"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["entry"]:
            for _pid, when, folder in trash_entries(ws()):
                self.stdout.write(f"{folder.name}\tdeleted {when:%Y-%m-%d %H:%M}")
            return
        p = project_restore(opts["entry"])
        self.stdout.write(f"Restored {p.id}\t{p.name}")
