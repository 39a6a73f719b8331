"""Mirror of the dataset folder (``dataset.json``, ``meta/``, ``imports/``) for fast browsing.

Written only by :mod:`apps.datasets.mirror`; rebuilt from the workspace whenever
``dataset.json`` changed behind its back (see ``DatasetState``).
"""

from django.db import models


class Image(models.Model):
    """One image record. Browsing sorts by name/date/size within a project and class,
    always tie-broken on ``image_id``; each sort has a covering index for that."""

    project_id = models.CharField(max_length=64)
    image_id = models.CharField(max_length=16)
    name = models.CharField(max_length=1000)
    class_id = models.IntegerField(null=True)
    label = models.CharField(max_length=200, blank=True, default="")
    width = models.IntegerField()
    height = models.IntegerField()
    bytes = models.BigIntegerField()
    format = models.CharField(max_length=16)
    sha256 = models.CharField(max_length=64)
    imported_at = models.DateTimeField()
    import_id = models.CharField(max_length=64)
    target = models.JSONField(null=True)  # regression: the values, in target_names order
    target0 = models.FloatField(null=True)  # the first value, to sort by

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project_id", "image_id"], name="ds_image_unique")
        ]
        indexes = [
            models.Index(fields=["project_id", "name", "image_id"], name="ds_img_name"),
            models.Index(fields=["project_id", "imported_at", "image_id"], name="ds_img_date"),
            models.Index(fields=["project_id", "bytes", "image_id"], name="ds_img_size"),
            models.Index(
                fields=["project_id", "class_id", "name", "image_id"], name="ds_img_cls_name"
            ),
            models.Index(
                fields=["project_id", "class_id", "imported_at", "image_id"], name="ds_img_cls_date"
            ),
            models.Index(
                fields=["project_id", "class_id", "bytes", "image_id"], name="ds_img_cls_size"
            ),
            models.Index(fields=["project_id", "import_id"], name="ds_img_import"),
            models.Index(fields=["project_id", "target0", "image_id"], name="ds_img_target"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.image_id})"


class Import(models.Model):
    """One import (``imports/<id>.json``); the issues stay in the JSON report."""

    id = models.CharField(primary_key=True, max_length=64)
    project_id = models.CharField(max_length=64, db_index=True)
    job_id = models.CharField(max_length=64, blank=True, default="")
    source = models.TextField()
    format = models.CharField(max_length=32)
    status = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    added = models.IntegerField(default=0)
    duplicates = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    issue_count = models.IntegerField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        # Reading folders on the server is not for every user: staff have it implicitly,
        # an admin may grant it to others (Django admin → Users → permissions).
        permissions = [("import_server_folder", "Can import from folders on the server")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class DatasetState(models.Model):
    """Which ``dataset.json`` the rows of a project were built from (mtime + size), the
    image count per class of those rows (so a class-filtered page needs no ``COUNT(*)``) and
    a summary of the regression targets (the Dataset page's histogram)."""

    project_id = models.CharField(primary_key=True, max_length=64)
    json_mtime_ns = models.BigIntegerField(default=0)
    json_size = models.BigIntegerField(default=0)
    image_count = models.IntegerField(default=0)
    class_counts = models.JSONField(default=dict)  # {"<class id>" | "none": count}
    # per regression target: {"name", "count", "min", "max", "mean", "edges", "counts"}
    target_stats = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.project_id
