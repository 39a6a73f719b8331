from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.projects.services import project_delete


class Command(StudioCommand):
    help = "Move a project to the workspace trash (restore_project brings it back)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")

    def handle(self, *args: Any, **opts: Any) -> None:
        entry = project_delete(opts["project_id"])
        self.stdout.write(f"Moved to trash as {entry}")
