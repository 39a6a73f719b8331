"""The admin shows the mirror read-only: the workspace JSON is the source of truth."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.core.models import Job


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "project_id",
        "status",
        "progress_done",
        "progress_total",
        "created_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("id", "project_id", "message")
