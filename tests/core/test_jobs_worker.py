"""Jobs through a real redis-server, real ``rundramatiq`` workers and a real Daphne."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib

from apps.core import services
from apps.core.models import Job
from studio.runtime.redis_server import EmbeddedRedis
from studio.storage import job_store
from studio.storage.paths import Workspace
from studio.storage.schemas import JobStatus
from tests.sse_client import read_sse

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def status(ws: Workspace, job_id: str) -> JobStatus:
    return job_store.load(ws, job_id).status


def succeeded(ws: Workspace, job_id: str) -> bool:
    return status(ws, job_id) == JobStatus.succeeded


def worker_ready(log: Path) -> bool:
    return log.exists() and "ready for action" in log.read_text()


@pytest.fixture
def token(staff_user: Any) -> str:
    """A staff user's token: the selftest jobs here have no project (staff-only)."""
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=staff_user).key


def test_job_streams_progress_then_success_over_sse(
    start_worker: Any, live_server_url: str, token: str, workspace: Workspace
) -> None:
    start_worker()
    job = services.job_submit("selftest", {"steps": 5, "delay": 0.2})
    events = read_sse(f"{live_server_url}/api/jobs/{job.id}/events", token)
    types = [e["event"] for e in events]
    assert types[0] == "queued" and types[1] == "started"
    assert types[-1] == "succeeded"
    progress = [e["data"]["done"] for e in events if e["event"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == 5
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    # The mirror followed the JSON.
    row = Job.objects.get(id=job.id)
    assert row.status == "succeeded" and row.progress_done == 5
    # Replay from Last-Event-ID gives exactly the missed events.
    replay = read_sse(f"{live_server_url}/api/jobs/{job.id}/events", token, last_event_id=2)
    assert [e["id"] for e in replay] == [e["id"] for e in events[2:]]


def test_sse_requires_auth_and_known_job(live_server_url: str, token: str) -> None:
    import urllib.error
    import urllib.request

    job = services.job_submit("selftest", {"steps": 1})
    with pytest.raises(urllib.error.HTTPError) as anon:
        urllib.request.urlopen(f"{live_server_url}/api/jobs/{job.id}/events", timeout=10)
    assert anon.value.code == 401
    req = urllib.request.Request(
        f"{live_server_url}/api/jobs/jnope/events", headers={"Authorization": f"Token {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(req, timeout=10)
    assert missing.value.code == 404


def test_failed_and_cancelled_jobs(start_worker: Any, workspace: Workspace) -> None:
    start_worker()
    failing = services.job_submit("selftest", {"steps": 1, "fail": True})
    slow = services.job_submit("selftest", {"steps": 200, "delay": 0.05})
    wait_for(lambda: status(workspace, slow.id) == JobStatus.running, what="slow job running")
    services.job_cancel(slow.id)
    wait_for(lambda: status(workspace, slow.id) == JobStatus.cancelled, what="cancel")
    wait_for(lambda: status(workspace, failing.id) == JobStatus.failed, what="failure")
    assert "selftest asked to fail" in job_store.load(workspace, failing.id).error


def test_killing_redis_loses_no_queued_job(
    redis_server: EmbeddedRedis,
    redis_client: redis_lib.Redis,
    start_worker: Any,
    workspace: Workspace,
) -> None:
    jobs = [services.job_submit("selftest", {"steps": 1, "delay": 0}) for _ in range(5)]
    time.sleep(1.5)  # appendfsync everysec: what was acknowledged a second ago is on disk
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGKILL)
    redis_server.process.wait()
    redis_server.process = None
    redis_server.start()
    start_worker()
    for job in jobs:
        wait_for(partial(succeeded, workspace, job.id), what=f"job {job.id}")


def test_two_workers_share_a_burst_and_each_job_runs_once(
    start_worker: Any, workspace: Workspace, tmp_path: Path
) -> None:
    # selftest jobs need no ML stack: two workers importing torch at once on 2 cores can take
    # longer than the readiness wait, and the preload is tested in tests/experiments/
    start_worker("a", STUDIO_WORKER_PRELOAD="0")
    start_worker("b", STUDIO_WORKER_PRELOAD="0")
    wait_for(
        lambda: all(worker_ready(p) for p in (tmp_path / "a-0.log", tmp_path / "b-1.log")),
        what="workers ready",
    )
    record = tmp_path / "runs.txt"
    jobs = [
        services.job_submit("selftest", {"steps": 1, "delay": 0.1, "record": str(record)})
        for _ in range(30)
    ]
    from apps.core.jobs import run_job

    for job in jobs[:10]:  # at-least-once delivery: duplicates must not run twice
        run_job.send(job.id)
    for job in jobs:
        wait_for(partial(succeeded, workspace, job.id), what=f"job {job.id}")
    time.sleep(1.0)  # give any duplicate a chance to (wrongly) run
    lines = record.read_text().split()
    runs = lines[0::2]
    pids = set(lines[1::2])
    assert sorted(runs) == sorted(j.id for j in jobs), "every job ran exactly once"
    assert len(pids) == 2, "both worker processes took part"


def test_sigkilled_worker_leaves_job_interrupted(start_worker: Any, workspace: Workspace) -> None:
    proc = start_worker()
    job = services.job_submit("selftest", {"steps": 1000, "delay": 0.05})
    wait_for(lambda: status(workspace, job.id) == JobStatus.running, what="job running")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert services.jobs_reconcile(requeue=False)["interrupted"] == 0  # heartbeat still fresh
    time.sleep(7)  # the test lease is 6 s
    assert services.jobs_reconcile(requeue=False)["interrupted"] == 1
    loaded = job_store.load(workspace, job.id)
    assert loaded.status == JobStatus.interrupted and "Interrupted" in loaded.error
