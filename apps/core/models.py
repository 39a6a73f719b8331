"""Mirror of ``jobs/<id>/job.json`` for the admin and fast listing. Written only by services."""

from django.db import models


class Job(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    kind = models.CharField(max_length=64, db_index=True)
    project_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    status = models.CharField(max_length=16, db_index=True)
    progress_done = models.IntegerField(default=0)
    progress_total = models.IntegerField(default=0)
    message = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    worker = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"
