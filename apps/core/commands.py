"""Shared behaviour of the project commands: a domain error becomes a sentence and exit 1."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from studio.errors import StudioError


class StudioCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except StudioError as exc:
            raise CommandError(exc.message) from exc
