"""Mirror of ``projects/<id>/project.json``. Written only by ``services``; rebuilt by ``rebuild_mirror``."""

from django.db import models

from studio.ml.tasks.registry import TASKS, TaskType


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200, db_index=True)
    task = models.CharField(max_length=64, blank=True, default="")
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(null=True)
    damaged = models.BooleanField(default=False)
    damage_reason = models.TextField(blank=True, default="")
    json_mtime_ns = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def task_label(self) -> str:
        try:
            return TASKS[TaskType(self.task)].label
        except ValueError:
            return self.task or "Unknown task"


class ProjectMember(models.Model):
    """Mirror of one ``project.json`` ``members`` entry (rebuilt with its project row).

    Keyed by user name, as in the JSON: the workspace may outlive (or be shared by) several
    databases, so it cannot hold user ids. A member whose user does not exist has no effect.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    username = models.CharField(max_length=150, db_index=True)
    role = models.CharField(max_length=16)

    class Meta:
        ordering = ["project_id", "username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "username"], name="unique_project_member")
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.role}) in {self.project_id}"
