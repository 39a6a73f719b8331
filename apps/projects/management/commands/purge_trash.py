from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.projects.services import trash_purge


class Command(StudioCommand):
    help = "Delete trashed projects for good (all, or those older than --days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=float, default=0, help="only entries older than this")

    def handle(self, *args: Any, **opts: Any) -> None:
        purged = trash_purge(opts["days"])
        self.stdout.write(f"Purged {len(purged)} project(s) from the trash.")
