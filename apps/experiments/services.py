"""Experiment writes: validate, write experiment.json (under its lock), then the mirror.

Life cycle (``ExperimentStatus``)::

    draft ──start──► queued ──worker takes the lease──► running ──► completed
                       │                                  ├──stop──► stopped ──resume──► queued …
                       └──stop (not yet running)──► draft  ├──error──► failed   (keeps checkpoints)
                                                           └──worker died──► interrupted ──resume──► …

One execution per experiment: ``start`` only from ``draft``, ``resume`` only from ``stopped``
or ``interrupted`` (409 otherwise). Training itself runs in a Dramatiq worker
(:func:`run_training_job`, job kind ``training``) or in ``manage.py train``; both go through
:mod:`apps.experiments.runner`, which holds the experiment's lease while it trains.
"""

from __future__ import annotations

import logging
from typing import Any

from apps.core.job_context import JobCancelled, JobContext
from apps.core.services import job_cancel, job_submit, worker_name
from apps.core.workspace import ws
from apps.experiments import runner, store
from apps.experiments.mirror import forget_experiment, mirror_one, rebuild_all
from apps.experiments.reconcile import (  # noqa: F401 - re-exported for callers
    ACTIVE,
    experiment_reconcile,
    experiments_reconcile,
    not_started_status,
)
from studio.errors import Conflict, NotFound, ValidationFailed
from studio.ml.hparams import TrainingConfig
from studio.ml.tasks.registry import load_task, require_available
from studio.splits import store as split_store
from studio.storage import project_store
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus
from studio.storage.locks import resource_lock
from studio.storage.paths import check_id, new_id

log = logging.getLogger(__name__)
JOB_KIND = "training"
NAME_MAX = 100


def clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(
            "An experiment needs a name", details={"name": ["This field may not be blank."]}
        )
    cleaned = " ".join(name.split())
    if len(cleaned) > NAME_MAX:
        raise ValidationFailed(
            f"Experiment names are at most {NAME_MAX} characters",
            details={"name": [f"Ensure this field has no more than {NAME_MAX} characters."]},
        )
    return cleaned


def validate_config(task_name: str, overrides: Any) -> TrainingConfig:
    """User settings over the task defaults; 400 with one message list per bad field.

    Pretrained weights must be on this machine: otherwise the 400 says so and how to train
    from scratch instead (a worker never tries to download mid-run).
    """
    if overrides is not None and not isinstance(overrides, dict):
        raise ValidationFailed(
            "config must be an object of training settings",
            details={"config": ['Expected an object such as {"epochs": 5}.']},
        )
    config: TrainingConfig = load_task(task_name).make_config(overrides or {})
    if config.pretrained:
        from studio.ml.catalog import get_spec
        from studio.ml.weights import offline_message, weights_status

        if not weights_status(config.model).available:
            message = offline_message(get_spec(config.model))
            raise ValidationFailed(
                message, code="weights_unavailable", details={"pretrained": [message]}
            )
    return config


def _taken_names(project_id: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for eid in store.experiment_ids(ws(), project_id):
        found = store.inspect(ws(), project_id, eid)
        if found.experiment is not None:
            out[found.experiment.name.casefold()] = eid
    return out


def experiment_create(
    project_id: str, split_id: object, config: Any = None, name: object = None
) -> ExperimentFile:
    """A new ``draft`` experiment over a saved split (404 unknown split, 400 bad settings)."""
    project = project_store.load(ws(), project_id)
    require_available(project.task)  # 400 task_unavailable: nothing to train it with yet
    if not isinstance(split_id, str) or not split_id:
        raise ValidationFailed(
            "Choose a split to train on", details={"split_id": ["This field is required."]}
        )
    check_id(split_id, "split")
    split_store.load(ws(), project_id, split_id)
    validated = validate_config(project.task, config)
    cleaned = (
        None if name is None or (isinstance(name, str) and not name.strip()) else clean_name(name)
    )
    store.experiments_dir(ws(), project_id).mkdir(exist_ok=True)
    # The splits lock too: a split cannot be deleted between our check and our write.
    with (
        resource_lock(split_store.splits_lock(ws(), project_id)),
        resource_lock(store.experiments_lock(ws(), project_id)),
    ):
        split_store.load(ws(), project_id, split_id)
        taken = _taken_names(project_id)
        final = cleaned or _default_name(taken)
        if final.casefold() in taken:
            raise Conflict(
                f"An experiment named {final!r} already exists in this project",
                code="duplicate_name",
                details={"name": [f"{final!r} is taken"], "experiment_id": taken[final.casefold()]},
            )
        exp = ExperimentFile(
            id=new_id("e"), project_id=project_id, name=final, task=project.task,
            split_id=split_id, config=validated.model_dump(mode="json"), epochs_done=0,
        )  # fmt: skip
        store.create(ws(), exp)
    mirror_one(exp)
    return exp


def _default_name(taken: dict[str, str]) -> str:
    n = len(taken) + 1
    while f"experiment {n}" in taken:
        n += 1
    return f"Experiment {n}"


def _queue(exp: ExperimentFile, resume: bool) -> None:
    """Submit the training job and point the experiment at it (caller holds the lock)."""
    validate_config(exp.task, exp.config)  # the machine or the weights may have changed
    if exp.split_id:
        split_store.load(ws(), exp.project_id, exp.split_id)
    store.clear_stop(ws(), exp.project_id, exp.id)
    params = {"project_id": exp.project_id, "experiment_id": exp.id, "resume": resume}
    job = job_submit(JOB_KIND, params, exp.project_id)
    store.add_run(ws(), exp.project_id, exp.id, store.RunEntry(job_id=job.id, resume=resume))
    exp.status = ExperimentStatus.queued
    exp.job_id = job.id
    exp.error = ""
    exp.finished_at = None
    exp.lease_owner = None
    store.save(ws(), exp)


def _locked(project_id: str, experiment_id: str) -> Any:
    store.load(ws(), project_id, experiment_id)  # 404 / 409 damaged before locking
    return resource_lock(store.experiment_lock(ws(), project_id, experiment_id))


def experiment_start(project_id: str, experiment_id: str) -> ExperimentFile:
    """Queue the one training run of a draft (409 ``already_started`` otherwise)."""
    project_store.load(ws(), project_id)
    with _locked(project_id, experiment_id):
        exp = store.load(ws(), project_id, experiment_id)
        if exp.status != ExperimentStatus.draft:
            raise Conflict(
                f"Experiment {exp.name!r} was already started (it is {exp.status.value}); "
                "resume it if it stopped, or create a new experiment",
                code="already_started",
                details={"status": exp.status.value},
            )
        _queue(exp, resume=False)
    mirror_one(exp)
    return exp


def experiment_resume(project_id: str, experiment_id: str) -> ExperimentFile:
    """Continue a stopped or interrupted run from ``last.ckpt`` (409 ``not_resumable``)."""
    project_store.load(ws(), project_id)
    with _locked(project_id, experiment_id):
        exp = store.load(ws(), project_id, experiment_id)
        if not exp.status.resumable:
            raise Conflict(
                f"Only a stopped or interrupted experiment can be resumed; {exp.name!r} is "
                f"{exp.status.value}",
                code="not_resumable",
                details={"status": exp.status.value},
            )
        _queue(exp, resume=True)
    mirror_one(exp)
    return exp


def experiment_stop(project_id: str, experiment_id: str) -> ExperimentFile:
    """Ask the trainer to stop after its current batch (it saves ``last.ckpt``, then the
    experiment is ``stopped``). A run still waiting in the queue is taken out of it."""
    project_store.load(ws(), project_id)
    with _locked(project_id, experiment_id):
        exp = store.load(ws(), project_id, experiment_id)
        if exp.status not in ACTIVE:
            raise Conflict(
                f"Experiment {exp.name!r} is not running (it is {exp.status.value})",
                code="not_running",
                details={"status": exp.status.value},
            )
        store.request_stop(ws(), project_id, experiment_id)
        job = None
        if exp.job_id:
            try:
                job = job_cancel(exp.job_id)
            except NotFound:
                job = None
        if exp.status == ExperimentStatus.queued and (job is None or job.status.terminal):
            exp.status = not_started_status(exp)
            exp.lease_owner = None
            store.clear_stop(ws(), project_id, experiment_id)
            store.save(ws(), exp)
    mirror_one(exp)
    return exp


def experiment_delete(project_id: str, experiment_id: str) -> str:
    """Move the experiment folder to ``projects/<pid>/.trash/experiments/`` (409 while active)."""
    project_store.load(ws(), project_id)
    store.load(ws(), project_id, experiment_id)
    with (
        resource_lock(store.experiments_lock(ws(), project_id)),
        resource_lock(store.experiment_lock(ws(), project_id, experiment_id)),
    ):
        exp = store.load(ws(), project_id, experiment_id)
        if exp.status in ACTIVE:
            raise Conflict(
                f"Experiment {exp.name!r} is {exp.status.value}: stop it before deleting it",
                code="experiment_active",
                details={"status": exp.status.value},
            )
        folder = store.move_to_trash(ws(), project_id, experiment_id)
    forget_experiment(experiment_id)
    return folder.name


# ---------------------------------------------------------------- the job


class _JobHooks:
    """The runner's view of a Dramatiq job: events, progress and the cancel flag."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    def event(self, type_: str, data: dict[str, Any]) -> None:
        self.ctx.event(type_, data)

    def progress(self, done: int, total: int, message: str, data: dict[str, Any]) -> None:
        self.ctx.progress(done, total, message, data=data)

    def cancel_requested(self) -> bool:
        return self.ctx.cancel_requested()


def run_training_job(ctx: JobContext) -> dict[str, Any]:
    """Job kind ``training``: train one experiment in this worker (params: project_id,
    experiment_id, resume). A stop ends the job ``cancelled``; a failure ``failed`` with the
    experiment's reason; a duplicate or superseded delivery returns without training."""
    outcome = runner.execute(
        str(ctx.params["project_id"]),
        str(ctx.params["experiment_id"]),
        owner=f"{worker_name()}:{ctx.job_id}",
        job_id=ctx.job_id,
        resume=bool(ctx.params.get("resume")),
        hooks=_JobHooks(ctx),
    )
    if outcome.status == "stopped":
        raise JobCancelled(outcome.message)
    return {"status": outcome.status, "message": outcome.message, **outcome.result}


def experiment_run_local(
    project_id: str, experiment_id: str, hooks: runner.Hooks
) -> runner.Outcome:
    """Train a draft in this process (``manage.py train``); the lease guards it the same way."""
    with _locked(project_id, experiment_id):
        exp = store.load(ws(), project_id, experiment_id)
        if exp.status != ExperimentStatus.draft:
            raise Conflict(f"Experiment {exp.name!r} was already started", code="already_started")
        validate_config(exp.task, exp.config)
        exp.status = ExperimentStatus.queued
        store.save(ws(), exp)
    mirror_one(exp)
    owner = f"cli:{worker_name()}"
    return runner.execute(
        project_id, experiment_id, owner=owner, job_id=None, resume=False, hooks=hooks
    )


def mirror_rebuild() -> int:
    """Drop every experiment row and reload them from the workspace; returns the count."""
    return rebuild_all()
