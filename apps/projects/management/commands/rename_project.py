from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.projects.services import project_update


class Command(StudioCommand):
    help = "Rename a project: rename_project PROJECT_ID NEW_NAME"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")
        parser.add_argument("name")

    def handle(self, *args: Any, **opts: Any) -> None:
        p = project_update(opts["project_id"], name=opts["name"])
        self.stdout.write(f"{p.id}\t{p.name}")
