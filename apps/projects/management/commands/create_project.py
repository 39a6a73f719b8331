from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.projects.services import project_create


class Command(StudioCommand):
    help = (
        "Create a project: create_project NAME --task classification [--owner USERNAME]. "
        "Without --owner only staff users see it until add_member gives it members."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--task", default="classification")
        parser.add_argument("--description", default="")
        parser.add_argument("--owner", default=None, help="user name of the first owner")

    def handle(self, *args: Any, **opts: Any) -> None:
        p = project_create(opts["name"], opts["task"], opts["description"], owner=opts["owner"])
        self.stdout.write(f"{p.id}\t{p.name}\t{p.task}")
