"""Dramatiq actors of the core: one generic actor runs every job kind by id."""

import dramatiq

from apps.core.services import job_execute

# Training runs for hours: the limit is a runaway guard, not a budget. Retries are
# off because a failed job is reported, not silently repeated; redelivery after a
# worker crash is handled by the claim (at most once) and reconciliation.
JOB_TIME_LIMIT_MS = 7 * 24 * 3600 * 1000


@dramatiq.actor(queue_name="studio", max_retries=0, time_limit=JOB_TIME_LIMIT_MS)
def run_job(job_id: str) -> None:
    job_execute(job_id)
