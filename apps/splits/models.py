"""Mirror of ``projects/<pid>/splits/<split_id>.json``. Written only by ``services``/``mirror``.

``SplitMembership`` holds one row per (split, image) so browsing can filter the dataset
grid by subset with an indexed query (see ``selectors.subset_filter``).
"""

from django.db import models

SUBSET_CHOICES = [("train", "train"), ("val", "val"), ("test", "test")]


class Split(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    project_id = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=200)
    task = models.CharField(max_length=64, blank=True, default="")
    strategy = models.CharField(max_length=32, blank=True, default="")
    seed = models.BigIntegerField(default=0)
    ratio_train = models.FloatField(default=0)
    ratio_val = models.FloatField(default=0)
    ratio_test = models.FloatField(default=0)
    image_count = models.IntegerField(default=0)
    train_count = models.IntegerField(default=0)
    val_count = models.IntegerField(default=0)
    test_count = models.IntegerField(default=0)
    created_at = models.DateTimeField(null=True)
    damaged = models.BooleanField(default=False)
    damage_reason = models.TextField(blank=True, default="")
    json_mtime_ns = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["project_id", "created_at", "id"]

    def __str__(self) -> str:
        return self.name


class SplitMembership(models.Model):
    split_id: str  # the foreign key column (filter by it without a join)
    split = models.ForeignKey(Split, on_delete=models.CASCADE, related_name="memberships")
    image_id = models.CharField(max_length=64)
    subset = models.CharField(max_length=8, choices=SUBSET_CHOICES)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["split", "image_id"], name="splits_membership_unique"),
        ]
        indexes = [
            models.Index(fields=["split", "subset", "image_id"], name="splits_membership_subset"),
        ]

    def __str__(self) -> str:
        return f"{self.split_id}:{self.image_id}={self.subset}"
