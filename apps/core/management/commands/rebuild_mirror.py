"""``manage.py rebuild_mirror``: drop the database mirror and rebuild it from the workspace JSON."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.core.models import Job
from apps.core.services import jobs_reconcile
from apps.datasets.mirror import mirror_rebuild as datasets_mirror_rebuild
from apps.evaluation.services import mirror_rebuild as evaluation_mirror_rebuild
from apps.experiments.services import mirror_rebuild as experiments_mirror_rebuild
from apps.exports.services import mirror_rebuild as exports_mirror_rebuild
from apps.projects.services import mirror_rebuild
from apps.splits.services import mirror_rebuild as splits_mirror_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the database mirror from the workspace (the JSON files are the source of truth)."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        with transaction.atomic():
            projects = mirror_rebuild()
            images = datasets_mirror_rebuild()
            splits = splits_mirror_rebuild()
            experiments = experiments_mirror_rebuild()
            evaluation_mirror_rebuild()
            exports_mirror_rebuild()
            Job.objects.all().delete()
            jobs = jobs_reconcile(requeue=False)["mirrored"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Mirror rebuilt: {projects} projects, {images} images, {splits} splits, {experiments} experiments, {jobs} jobs."
            )
        )
