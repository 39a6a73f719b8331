"""Mirror of ``experiments/<exp_id>/evaluation/`` (``evaluation.json``, ``results.json``).

Written only by :mod:`apps.evaluation.mirror`. ``EvalResult`` holds one row per evaluated
image so the results API filters (subset, correct, true/predicted class: a confusion-matrix
cell, anomaly score range) and sorts (confidence, anomaly score, regression error) with
indexed queries instead of re-reading ``results.json``. Each task fills its own columns
(see ``studio.storage.evaluation_schemas.ImageResult``); the others stay null.
"""

from django.db import models


class Evaluation(models.Model):
    """The status of the (single) evaluation of one experiment."""

    project_id = models.CharField(max_length=64)
    experiment_id = models.CharField(max_length=64)
    run_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, db_index=True)
    checkpoint = models.CharField(max_length=200, blank=True, default="")
    subsets = models.JSONField(default=list)
    job_id = models.CharField(max_length=64, blank=True, default="")
    task = models.CharField(max_length=64, blank=True, default="")
    accuracy = models.FloatField(null=True)  # class tasks only
    headline = models.CharField(max_length=32, blank=True, default="")  # e.g. accuracy, auroc, mae
    headline_value = models.FloatField(null=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    json_mtime_ns = models.BigIntegerField(default=0)  # evaluation.json the row was built from
    results_mtime_ns = models.BigIntegerField(default=0)  # results.json the result rows came from

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project_id", "experiment_id"], name="eval_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.experiment_id} ({self.status})"


class EvalResult(models.Model):
    """One evaluated image. ``true_class``/``pred_class`` are class ids of the evaluation
    (dataset classes; anomaly detection: 0 = good, 1 = anomalous), null for regression;
    ``score`` = anomaly score, ``targets``/``predictions``/``error`` = regression."""

    project_id = models.CharField(max_length=64)
    experiment_id = models.CharField(max_length=64)
    position = models.IntegerField()  # order in results.json (subset, then image id)
    image_id = models.CharField(max_length=64)
    file_name = models.CharField(max_length=1000)
    subset = models.CharField(max_length=8)
    true_class = models.IntegerField(null=True)
    true_name = models.CharField(max_length=200, blank=True, default="")
    pred_class = models.IntegerField(null=True)
    pred_name = models.CharField(max_length=200, blank=True, default="")
    correct = models.BooleanField(null=True)
    confidence = models.FloatField(default=0.0)
    top_k = models.JSONField(default=list)
    score = models.FloatField(null=True)
    targets = models.JSONField(null=True)
    predictions = models.JSONField(null=True)
    error = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["project_id", "experiment_id", "position"], name="evres_pos"),
            models.Index(fields=["project_id", "experiment_id", "subset", "correct", "position"],
                         name="evres_subset"),
            models.Index(fields=["project_id", "experiment_id", "true_class", "pred_class",
                                 "position"], name="evres_cell"),
            models.Index(fields=["project_id", "experiment_id", "confidence", "position"],
                         name="evres_conf"),
            models.Index(fields=["project_id", "experiment_id", "score", "position"],
                         name="evres_score"),
            models.Index(fields=["project_id", "experiment_id", "error", "position"],
                         name="evres_error"),
        ]  # fmt: skip

    def __str__(self) -> str:
        if self.error is not None:
            return f"{self.image_id}: error {self.error:.4g}"
        return f"{self.image_id}: {self.true_name} → {self.pred_name}"
