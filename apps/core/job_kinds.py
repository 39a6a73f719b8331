"""Every job kind and the function a worker runs for it: one line per kind.

A handler takes a :class:`apps.core.job_context.JobContext` and returns a small
result dict (stored in job.json). Import, training, evaluation and export add
their line here.
"""

JOB_KINDS: dict[str, str] = {
    "selftest": "apps.core.selftest:run_selftest",
    "dataset_import": "apps.datasets.services:run_import",
    "export": "apps.exports.services:run_export_job",
    "training": "apps.experiments.services:run_training_job",
    "evaluation": "apps.evaluation.services:run_evaluation_job",
}
