from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.exports.models import Export


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    list_display = ("id", "project_id", "experiment_id", "format", "status", "checkpoint",
                    "opset", "size", "validation_passed", "agreement", "created_at")  # fmt: skip
    list_filter = ("format", "status", "validation_passed", "damaged")
    search_fields = ("id", "project_id", "experiment_id")
