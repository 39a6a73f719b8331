"""Training as a job: real Redis, real ``rundramatiq`` workers, real Daphne for SSE."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from typing import Any

import pytest

from apps.core.jobs import run_job
from apps.experiments import store
from studio.storage import job_store
from studio.storage.paths import Workspace
from studio.storage.schemas import JobStatus
from tests.experiments.helpers import FAST_CONFIG, wait_for
from tests.sse_client import read_sse

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def url(pid: str, eid: str = "", action: str = "") -> str:
    return f"/api/experiments/{pid}/" + eid + (f"/{action}" if action else "")


def status_of(api: Any, pid: str, eid: str) -> str:
    return str(api.get(url(pid, eid)).json()["status"])


@pytest.mark.timeout(600)
def test_training_job_completes_once_and_streams_over_sse(
    api: Any,
    digits: tuple[str, str],
    start_worker: Any,
    live_server_url: str,
    token: str,
    workspace: Workspace,
) -> None:
    pid, sid = digits
    start_worker()
    began = time.monotonic()
    exp = api.post(
        url(pid), {"split_id": sid, "config": FAST_CONFIG, "start": True}, format="json"
    ).json()
    eid, job_id = exp["id"], exp["job_id"]
    run_job.send(job_id)  # Dramatiq delivers at least once: a duplicate must not train again
    events = read_sse(f"{live_server_url}{exp['events_url']}", token, timeout=300)
    took = time.monotonic() - began
    at = {e["event"]: datetime.fromisoformat(e["data"]["at"]) for e in events}
    print(
        f"\ndigits through a worker (2 epochs, 64 train images, 16 px): {took:.1f} s from the "
        f"request (worker start-up included), queue {(at['started'] - at['queued']).total_seconds():.1f} s, "
        f"training {(at['finished'] - at['training_started']).total_seconds():.1f} s"
    )

    types = [e["event"] for e in events]
    assert types[:2] == ["queued", "started"], types
    assert types.count("training_started") == 1 and types.count("epoch_end") == 2
    assert types[-2:] == ["finished", "succeeded"], types
    assert "progress" in types and "checkpoint_saved" in types
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)) and all(
        e["data"]["run"] == 1 and e["data"]["job_id"] == job_id for e in events
    )
    progress = next(e["data"] for e in events if e["event"] == "progress")
    assert {"epoch", "batch", "batches", "loss", "images_per_s", "eta_s", "done", "total"} <= set(
        progress
    )
    epoch_end = next(e["data"] for e in events if e["event"] == "epoch_end")
    assert {"train_loss", "val_loss", "val_accuracy", "lr"} <= set(epoch_end["metrics"])

    body = api.get(url(pid, eid)).json()
    assert body["status"] == "completed" and body["epochs_done"] == 2
    assert (
        body["best_checkpoint"] == "checkpoints/best.ckpt"
        and body["last_checkpoint"] == "checkpoints/last.ckpt"
    )
    assert body["best_metric"]["name"] == "val_accuracy" and "val_f1" in body["final_metrics"]
    folder = store.experiment_dir(workspace, pid, eid)
    assert (folder / "checkpoints" / "best.ckpt").is_file()
    assert [r["epoch"] for r in api.get(url(pid, eid, "metrics")).json()] == [1, 2]
    job = job_store.load(workspace, job_id)
    assert (
        job.status == JobStatus.succeeded
        and job.attempts == 1
        and job.result["status"] == "completed"
    )
    listed = api.get(url(pid)).json()[0]
    assert listed["status"] == "completed" and listed["best_metric"]["name"] == "val_accuracy"

    # replay from Last-Event-ID gives exactly the rest
    replay = read_sse(f"{live_server_url}{exp['events_url']}", token, last_event_id=ids[3])
    assert [e["id"] for e in replay] == ids[4:]
    # the stream needs credentials like the rest of the API
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as anon:
        urllib.request.urlopen(f"{live_server_url}{exp['events_url']}", timeout=10)
    assert anon.value.code == 401


@pytest.mark.timeout(900)
def test_stop_kill_and_resume_without_duplicate_rows(
    api: Any,
    digits: tuple[str, str],
    start_worker: Any,
    live_server_url: str,
    token: str,
    workspace: Workspace,
) -> None:
    pid, sid = digits
    # enough epochs that the run cannot finish between "an epoch after resume" and the kill
    config = {**FAST_CONFIG, "epochs": 10}
    first = start_worker("first")
    exp = api.post(
        url(pid), {"split_id": sid, "config": config, "start": True}, format="json"
    ).json()
    eid = exp["id"]
    folder = store.experiment_dir(workspace, pid, eid)
    wait_for(lambda: status_of(api, pid, eid) == "running", 180, "running")
    wait_for(
        lambda: job_store.load(workspace, exp["job_id"]).progress.done >= 2, 120, "a few batches"
    )

    # graceful stop: finish the batch, save last.ckpt, status stopped
    assert api.post(url(pid, eid, "stop")).status_code == 202
    wait_for(lambda: status_of(api, pid, eid) == "stopped", 120, "stopped")
    assert (folder / "checkpoints" / "last.ckpt").is_file()
    # the job record is closed just after the experiment file says stopped
    wait_for(
        lambda: job_store.load(workspace, exp["job_id"]).status == JobStatus.cancelled,
        30,
        "cancelled",
    )
    # training is fast: the stop may land after an epoch or two, so count from there
    at_stop = api.get(url(pid, eid)).json()["epochs_done"]
    assert at_stop <= config["epochs"] - 4, "stopped too late to test a kill mid-run"

    # resume, then SIGKILL the worker once an epoch has finished
    resumed = api.post(url(pid, eid, "resume"))
    assert resumed.status_code == 202 and len(resumed.json()["jobs"]) == 2
    wait_for(
        lambda: api.get(url(pid, eid)).json()["epochs_done"] > at_stop, 180, "an epoch after resume"
    )
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    # the list (any reader) notices within one lease (6 s in tests) and says interrupted
    wait_for(lambda: api.get(url(pid)).json()[0]["status"] == "interrupted", 60, "interrupted")
    print(f"\nkill detected after {time.monotonic() - killed_at:.1f} s")
    body = api.get(url(pid, eid)).json()
    assert body["resumable"] and "resume" in body["error"]
    assert job_store.load(workspace, resumed.json()["job_id"]).status == JobStatus.interrupted

    start_worker("second")
    third = api.post(url(pid, eid, "resume")).json()
    assert len(third["jobs"]) == 3
    wait_for(lambda: status_of(api, pid, eid) == "completed", 300, "completed")
    rows = api.get(url(pid, eid, "metrics")).json()
    assert [r["epoch"] for r in rows] == list(range(1, config["epochs"] + 1))
    assert api.get(url(pid, eid)).json()["epochs_done"] == config["epochs"]

    # one stream shows all three runs in order and ends after the last
    events = read_sse(f"{live_server_url}{exp['events_url']}", token, timeout=120)
    runs = [e["data"]["run"] for e in events]
    assert runs == sorted(runs) and set(runs) == {1, 2, 3}
    assert [e["event"] for e in events if e["event"] in ("stopped", "interrupted", "finished")] == [
        "stopped",
        "interrupted",
        "finished",
    ]
    assert [e["id"] for e in events] == sorted({e["id"] for e in events})
