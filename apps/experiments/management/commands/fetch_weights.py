"""``manage.py fetch_weights [model keys …] [--list]``: download pretrained ImageNet weights
into the workspace cache ahead of time (on a machine with internet), or list what is here.

Offline (or with ``STUDIO_OFFLINE=1``) it says so in one sentence and exits 1.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from studio.ml.catalog import CATALOG


class Command(StudioCommand):
    help = "Download pretrained weights of catalog models (default: all) into the local cache."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("models", nargs="*", help=f"catalog keys ({', '.join(CATALOG)})")
        parser.add_argument("--list", action="store_true", help="only show which weights are here")

    def handle(self, *args: Any, **opts: Any) -> None:
        from studio.ml.weights import fetch_weights, weights_status

        keys: list[str] = opts["models"] or list(CATALOG)
        if opts["list"]:
            for key in keys:
                status = weights_status(key)
                mark = "available" if status.available else "missing"
                self.stdout.write(f"{key:<22} {mark:<10} {status.path}")
            return
        for status in fetch_weights(keys):
            self.stdout.write(self.style.SUCCESS(f"{status.key}: {status.path}"))
