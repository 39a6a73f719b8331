from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.projects.services import member_remove


class Command(StudioCommand):
    help = "Take a user out of a project: remove_member PROJECT_ID USERNAME (not the last owner)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")
        parser.add_argument("username")

    def handle(self, *args: Any, **opts: Any) -> None:
        project = member_remove(opts["project_id"], opts["username"])
        self.stdout.write(f"{opts['username']} removed from {project.id} ({project.name})")
