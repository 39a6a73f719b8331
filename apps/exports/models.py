"""Mirror of ``experiments/<exp_id>/exports/<export_id>/export.json``.

Written only by ``services``/``mirror``; the JSON is the source of truth.
"""

from django.db import models


class Export(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    project_id = models.CharField(max_length=64, db_index=True)
    experiment_id = models.CharField(max_length=64, db_index=True)
    format = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=16, blank=True, default="")
    checkpoint = models.CharField(max_length=160, blank=True, default="")
    opset = models.IntegerField(null=True)
    model = models.CharField(max_length=64, blank=True, default="")
    size = models.BigIntegerField(null=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    validation_passed = models.BooleanField(null=True)
    max_abs_diff = models.FloatField(null=True)
    agreement = models.FloatField(null=True)
    accuracy_delta = models.FloatField(null=True)
    job_id = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    damaged = models.BooleanField(default=False)
    damage_reason = models.TextField(blank=True, default="")
    json_mtime_ns = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["project_id", "experiment_id", "-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.id} ({self.format})"
