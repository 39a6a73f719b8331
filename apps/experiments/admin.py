from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.experiments.models import Experiment


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyAdmin):
    list_display = ("id", "project_id", "name", "model", "status", "epochs_done", "epochs",
                    "best_metric_name", "best_metric_value", "created_at")  # fmt: skip
    list_filter = ("status", "model", "damaged")
    search_fields = ("id", "project_id", "name", "job_id")
