"""Mirror of ``projects/<pid>/experiments/<exp_id>/experiment.json``.

Written only by ``services``/``mirror`` (and the training runner through them); rebuilt by
``manage.py rebuild_mirror``. Lists and the admin read it; one experiment is always read
from its JSON.
"""

from django.db import models

STATUS_CHOICES = [
    (s, s) for s in ("draft", "queued", "running", "completed", "stopped", "failed", "interrupted")
]


class Experiment(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    project_id = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=200)
    task = models.CharField(max_length=64, blank=True, default="")
    split_id = models.CharField(max_length=64, blank=True, default="")
    model = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default="draft", db_index=True)
    job_id = models.CharField(max_length=64, blank=True, default="")
    epochs = models.IntegerField(default=0)
    epochs_done = models.IntegerField(default=0)
    best_metric_name = models.CharField(max_length=64, blank=True, default="")
    best_metric_value = models.FloatField(null=True)
    best_epoch = models.IntegerField(null=True)
    final_metrics = models.JSONField(default=dict)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    damaged = models.BooleanField(default=False)
    damage_reason = models.TextField(blank=True, default="")
    json_mtime_ns = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["project_id", "-created_at", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")
