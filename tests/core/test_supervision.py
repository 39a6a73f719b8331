"""``manage.py studio`` keeps Studio up: a killed worker or redis-server is restarted while the
web keeps answering, children die with a SIGKILLed supervisor, and the next start cleans up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.runtime import procs
from studio.storage import job_store
from studio.storage.paths import Workspace
from studio.storage.schemas import JobStatus
from tests.conftest import ROOT, free_port, subprocess_env, wait_for_port
from tests.experiments.helpers import FAST_CONFIG, digits_project

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str, log: Path | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


class Studio:
    """One ``manage.py studio`` process and its log."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "studio", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_log(self, needle: str, timeout: float = 90, count: int = 1) -> None:
        def seen() -> bool:
            assert self.proc.poll() is None, self.text()
            return self.text().count(needle) >= count

        wait_for(seen, timeout, repr(needle), self.log)

    def wait_up(self) -> None:
        self.wait_log("Studio is running at")
        wait_for_port(self.port)
        self.wait_log("ready for action")

    def get(self, path: str = "/login/") -> int:
        """The HTTP status, 0 when nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return int(r.status)
        except OSError:
            return 0

    def child(self, name: str, ws: Workspace) -> int:
        record = json.loads((ws.run_dir / "studio.pids").read_text())
        return int(next(c["pid"] for c in record["children"] if c["name"] == name))

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def studios() -> Iterator[list[Studio]]:
    started: list[Studio] = []
    yield started
    for studio in started:
        studio.stop()


def test_a_worker_killed_mid_training_is_restarted_and_the_run_resumes(
    api: Any,
    workspace: Workspace,
    redis_client: Any,
    tmp_path: Path,
    studios: list[Studio],
) -> None:
    from apps.experiments import store

    pid, sid = digits_project(workspace)
    env = subprocess_env(workspace, STUDIO_RECONCILE_SECONDS="1")  # lease: 6 s (tests.settings)
    studio = Studio(env, free_port(), tmp_path / "studio.log")
    studios.append(studio)
    studio.wait_up()
    epochs = 8
    url = f"/api/experiments/{pid}/"
    exp = api.post(
        url, {"split_id": sid, "config": {**FAST_CONFIG, "epochs": epochs}, "start": True},
        format="json",
    ).json()  # fmt: skip
    eid = exp["id"]
    wait_for(lambda: store.load(workspace, pid, eid).epochs_done >= 1, 120, "an epoch", studio.log)

    main = studio.child("worker", workspace)
    forked = procs.children(main)
    assert forked, "dramatiq forks its worker processes"
    os.kill(forked[0], signal.SIGKILL)
    killed_at = time.monotonic()
    assert store.load(workspace, pid, eid).epochs_done < epochs, "killed too late"
    studio.wait_log("The worker process")
    assert studio.get() == 200  # the web keeps serving while the worker restarts
    # the supervisor's reconcile loop notices the dead lease (6 s) on its own
    wait_for(
        lambda: store.load(workspace, pid, eid).status.value == "interrupted",
        30,
        "interrupted",
        studio.log,
    )
    assert job_store.load(workspace, exp["job_id"]).status == JobStatus.interrupted
    assert time.monotonic() - killed_at < 6 + 10
    assert "exited with code 1; restarting it in 1 s." in studio.text()
    studio.wait_log("Restarted the worker process")
    studio.wait_log("ready for action", count=2)
    assert studio.get() == 200

    assert api.post(f"{url}{eid}/resume").status_code == 202
    wait_for(
        lambda: store.load(workspace, pid, eid).status.value == "completed", 180, "completed",
        studio.log,
    )  # fmt: skip
    rows = api.get(f"{url}{eid}/metrics").json()
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))


def test_redis_crash_supervisor_crash_and_a_clean_restart(
    workspace: Workspace, tmp_path: Path, studios: list[Studio]
) -> None:
    from dramatiq.brokers.redis import RedisBroker

    from apps.core.jobs import run_job

    env = subprocess_env(workspace, STUDIO_RECONCILE_SECONDS="1")
    del env["STUDIO_REDIS_URL"]  # the embedded redis-server, supervised
    port = free_port()
    studio = Studio(env, port, tmp_path / "studio.log")
    studios.append(studio)
    studio.wait_up()
    socket_path = workspace.redis_socket()

    # (b) a job queued while no worker consumes survives a SIGKILL of redis-server
    worker = [studio.child("worker", workspace)]
    worker += procs.descendants(worker[0])
    for p in worker:
        os.kill(p, signal.SIGSTOP)
    record = tmp_path / "runs.txt"
    job = job_store.create(workspace, "selftest", {"steps": 1, "record": str(record)}, None)
    broker = RedisBroker(url=f"unix://{socket_path}", namespace="studio")
    broker.enqueue(run_job.message(job.id))
    broker.close()
    time.sleep(1.5)  # appendfsync everysec
    redis_pid = studio.child("redis", workspace)
    os.kill(redis_pid, signal.SIGKILL)
    studio.wait_log(f"The redis process (pid {redis_pid}) exited with code -9")
    assert studio.get() == 200  # the web answers while Redis is down or restarting
    studio.wait_log("Restarted the redis process")
    for p in worker:
        os.kill(p, signal.SIGCONT)
    wait_for(
        lambda: job_store.load(workspace, job.id).status == JobStatus.succeeded,
        60,
        "the queued job",
        studio.log,
    )
    time.sleep(1)
    assert len(record.read_text().splitlines()) == 1, "ran exactly once"

    # a dead web server is restarted too
    web = studio.child("web", workspace)
    os.kill(web, signal.SIGKILL)
    studio.wait_log(f"The web process (pid {web}) exited with code -9")
    studio.wait_log("Restarted the web process")
    wait_for(lambda: studio.get() == 200, 30, "the web server again", studio.log)

    # (c) SIGKILL the supervisor: no child survives it, forked workers included
    tree = procs.descendants(studio.proc.pid)
    names = {p: " ".join(procs.cmdline(p)) for p in tree}
    assert any("redis-server" in n for n in names.values())
    assert any("daphne" in n for n in names.values())
    assert sum("dramatiq" in n for n in names.values()) >= 2, names  # main + forked worker
    os.kill(studio.proc.pid, signal.SIGKILL)
    studio.proc.wait()
    wait_for(lambda: not any(procs.is_alive(p) for p in tree), 10, f"children to die: {names}")

    # (e) what a crash (of an older version) leaves: a dead socket, a stale pid file, an
    # orphan web server of this workspace on the port
    socket_path.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(socket_path))
    (workspace.run_dir / "redis.pid").write_text(f"{redis_pid}\n")
    orphan = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "studio.asgi:application"],
        cwd=ROOT, env={**env, "STUDIO_WORKSPACE": str(workspace.root.resolve())},
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port)
        again = Studio(env, port, tmp_path / "studio2.log")
        studios.append(again)
        again.wait_up()
        assert f"Port {port} is held by pid {orphan.pid}, a leftover" in again.text()
        assert orphan.wait(5) == -signal.SIGKILL
        assert again.get() == 200
        # and a second supervisor on the same workspace is refused with a sentence
        second = subprocess.run(
            [sys.executable, "manage.py", "studio", "--port", str(free_port())],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode != 0
        assert f"already running on this workspace (supervisor pid {again.proc.pid})" in (
            second.stderr + second.stdout
        )
        again.stop()
        assert again.proc.returncode == 0 and "Stopped." in again.text()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
