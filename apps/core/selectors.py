"""Job reads: the list from the mirror, one job from its JSON (the source of truth)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.models import Job
from apps.core.workspace import ws
from studio.errors import NotFound
from studio.storage import job_store
from studio.storage.paths import check_id
from studio.storage.schemas import JobFile


def job_list(
    project_id: str | None = None, status: str | None = None, kind: str | None = None
) -> QuerySet[Job]:
    qs = Job.objects.all()
    if project_id:
        qs = qs.filter(project_id=project_id)
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def job_get(job_id: str) -> JobFile:
    check_id(job_id, "job")
    try:
        return job_store.load(ws(), job_id)
    except NotFound:
        raise NotFound(f"No job {job_id!r}", details={"job_id": job_id}) from None
