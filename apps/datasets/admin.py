from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.datasets.models import DatasetState, Image, Import


@admin.register(Image)
class ImageAdmin(ReadOnlyAdmin):
    list_display = (
        "image_id",
        "project_id",
        "name",
        "label",
        "width",
        "height",
        "bytes",
        "imported_at",
    )
    list_filter = ("format",)
    search_fields = ("image_id", "project_id", "name")


@admin.register(Import)
class ImportAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "project_id",
        "format",
        "status",
        "added",
        "duplicates",
        "skipped",
        "started_at",
    )
    list_filter = ("status", "format")
    search_fields = ("id", "project_id", "source")


@admin.register(DatasetState)
class DatasetStateAdmin(ReadOnlyAdmin):
    list_display = ("project_id", "image_count", "json_mtime_ns")
