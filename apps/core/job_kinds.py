"""Every job kind and the function a worker runs for it: one line per kind.

A handler takes a :class:`apps.core.job_context.JobContext` and returns a small
result dict (stored in job.json). Import, training, evaluation and export add
their line here.
"""

JOB_KINDS: dict[str, str] = {
    "selftest": "apps.core.selftest:run_selftest",
}
