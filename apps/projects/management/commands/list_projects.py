from typing import Any

from apps.core.commands import StudioCommand
from apps.projects.selectors import project_list


class Command(StudioCommand):
    help = "List projects (id, name, task; damaged ones with the reason)."

    def handle(self, *args: Any, **opts: Any) -> None:
        for p in project_list():
            extra = f"\tDAMAGED: {p.damage_reason}" if p.damaged else ""
            self.stdout.write(f"{p.id}\t{p.name}\t{p.task}{extra}")
