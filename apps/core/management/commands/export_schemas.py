"""``manage.py export_schemas``: write the JSON Schema of every workspace file to docs/schemas/."""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from studio.schema_index import ALL_SCHEMAS


class Command(BaseCommand):
    help = "Write docs/schemas/<name>.schema.json for every workspace JSON file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "schemas"))

    def handle(self, *args: Any, **opts: Any) -> None:
        out = Path(opts["out"])
        out.mkdir(parents=True, exist_ok=True)
        for name, model in ALL_SCHEMAS.items():
            schema = model.model_json_schema()
            (out / f"{name}.schema.json").write_text(
                json.dumps(schema, indent=2, sort_keys=True) + "\n"
            )
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(ALL_SCHEMAS)} schemas to {out}"))
