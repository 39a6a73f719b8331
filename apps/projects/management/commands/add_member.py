from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.projects.services import member_set


class Command(StudioCommand):
    help = (
        "Give a user a role in a project (or change it): "
        "add_member PROJECT_ID USERNAME --role viewer|editor|owner"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")
        parser.add_argument("username")
        parser.add_argument("--role", default="viewer", choices=["viewer", "editor", "owner"])

    def handle(self, *args: Any, **opts: Any) -> None:
        project = member_set(opts["project_id"], opts["username"], opts["role"])
        self.stdout.write(f"{opts['username']} is {opts['role']} of {project.id} ({project.name})")
