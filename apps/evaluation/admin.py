from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.evaluation.models import EvalResult, Evaluation


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    list_display = ("project_id", "experiment_id", "task", "status", "checkpoint", "headline",
                    "headline_value", "created_at", "finished_at")  # fmt: skip
    list_filter = ("status", "task")
    search_fields = ("project_id", "experiment_id", "job_id")


@admin.register(EvalResult)
class EvalResultAdmin(ReadOnlyAdmin):
    list_display = ("experiment_id", "file_name", "subset", "true_name", "pred_name", "correct",
                    "confidence", "score", "error")  # fmt: skip
    list_filter = ("subset", "correct")
    search_fields = ("image_id", "file_name", "experiment_id")
