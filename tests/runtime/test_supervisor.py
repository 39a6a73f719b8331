"""Supervision building blocks with real processes: restart with backoff, parent-death signal,
leftover cleanup, the one-supervisor-per-workspace lock, busy ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.runtime import procs
from studio.runtime.supervisor import (
    AlreadyRunning,
    Supervisor,
    free_port_of_orphans,
    kill_leftovers,
    lock_workspace,
    port_free,
)


def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_dead_child_is_restarted_with_doubling_backoff(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor(
        record_path=tmp_path / "pids", log=lines.append, backoff_initial=0.2, backoff_max=0.5
    )
    first = sup.spawn("quick", [sys.executable, "-c", "raise SystemExit(7)"])
    restarted_at: list[float] = []
    try:
        deadline = time.monotonic() + 15
        while len(restarted_at) < 3:
            assert time.monotonic() < deadline, lines
            before = sup.children[0].restarts
            sup.tend()
            if sup.children[0].restarts > before:
                restarted_at.append(time.monotonic())
            time.sleep(0.02)
        exits = [line for line in lines if "exited with code 7" in line]
        assert (
            exits[0]
            == f"The quick process (pid {first.pid}) exited with code 7; restarting it in 0.2 s."
        )
        assert [e.rsplit(" in ", 1)[1] for e in exits[:3]] == ["0.2 s.", "0.4 s.", "0.5 s."]
        assert sum("Restarted the quick process" in line for line in lines) == 3
        record = json.loads((tmp_path / "pids").read_text())
        assert record["children"][0]["pid"] == sup.children[0].proc.pid  # type: ignore[union-attr]
    finally:
        sup.stop_all()
    assert not (tmp_path / "pids").exists()


def test_backoff_resets_after_a_child_stayed_up(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor(log=lines.append, backoff_initial=0.1, stable_after=0.3)
    sup.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(0.6)"])
    sup.children[0].delay = 8.0  # as if it had crashed often before

    def exited() -> bool:
        sup.tend()
        return any("exited" in line for line in lines)

    try:
        wait_until(exited)
        assert "restarting it in 0.1 s" in lines[0]
    finally:
        sup.stop_all()


def test_children_and_their_forks_die_with_the_supervisor(tmp_path: Path) -> None:
    """SIGKILL a supervisor process: its child (parent-death signal) dies, and so does the
    child's own fork that set it too (what WorkerGuard does in Dramatiq's worker processes)."""
    pids = tmp_path / "pids.txt"
    inner = (
        "import os, signal, time, multiprocessing as mp\n"
        "from studio.runtime import procs\n"
        "def work():\n"
        "    procs.die_with_parent(signal.SIGKILL, mp.parent_process().pid)\n"
        "    time.sleep(60)\n"
        "p = mp.get_context('fork').Process(target=work); p.start()\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{p.pid}}')\n"
        "time.sleep(60)\n"
    )
    outer = (
        "import sys, time\n"
        "from studio.runtime.supervisor import Supervisor\n"
        f"Supervisor(log=lambda s: None).spawn('child', [sys.executable, '-c', {inner!r}])\n"
        "time.sleep(60)\n"
    )
    sup = subprocess.Popen([sys.executable, "-c", outer], cwd=Path(__file__).parents[2])
    try:
        wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, 30)
        child, fork = map(int, pids.read_text().split())
        assert procs.is_alive(child) and procs.is_alive(fork)
        assert fork in procs.descendants(sup.pid)
        sup.kill()
        sup.wait()
        wait_until(lambda: not procs.is_alive(child) and not procs.is_alive(fork), 10)
    finally:
        if sup.poll() is None:
            sup.kill()


def test_kill_leftovers_kills_only_recorded_processes_that_are_still_the_same(
    tmp_path: Path,
) -> None:
    record = tmp_path / "studio.pids"
    ours = subprocess.Popen(["sleep", "60"], start_new_session=True)
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        wait_until(lambda: procs.start_time(ours.pid) is not None)
        children = [
            {"name": "web", "pid": ours.pid, "start": procs.start_time(ours.pid)},
            # a recycled pid: same number, another start time -> not ours
            {"name": "worker", "pid": stranger.pid, "start": 1},
        ]
        record.write_text(json.dumps({"supervisor": 1, "tag": "1:1", "children": children}))
        lines: list[str] = []
        assert kill_leftovers(record, lines.append) == 1
        assert ours.wait(5) == -signal.SIGKILL
        assert stranger.poll() is None
        assert not record.exists() and "left by a previous run" in lines[0]
    finally:
        for p in (ours, stranger):
            p.kill()
            p.wait()


def test_one_supervisor_per_workspace(tmp_path: Path) -> None:
    held = lock_workspace(tmp_path)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from studio.runtime.supervisor import AlreadyRunning, lock_workspace\n"
        "try:\n"
        f"    lock_workspace(Path({str(tmp_path)!r}))\n"
        "except AlreadyRunning as exc:\n"
        "    print(exc); sys.exit(3)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).parents[2], capture_output=True, text=True
    )
    assert out.returncode == 3, out.stderr
    assert f"already running on this workspace (supervisor pid {os.getpid()})" in out.stdout
    held.close()  # released: the next one gets it
    lock_workspace(tmp_path).close()
    with pytest.raises(AlreadyRunning):  # same process, second open file: flock refuses too
        first = lock_workspace(tmp_path)
        try:
            lock_workspace(tmp_path)
        finally:
            first.close()


def test_a_busy_port_is_freed_only_from_an_orphan_of_this_workspace(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    listen = (
        "import socket, time\n"
        f"s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)\n"
    )
    env = {**os.environ, "STUDIO_WORKSPACE": str(tmp_path / "other")}
    other = subprocess.Popen([sys.executable, "-c", listen], env=env)
    try:
        wait_until(lambda: not port_free("127.0.0.1", port))
        assert procs.listening_pids(port) == {other.pid}
        with pytest.raises(RuntimeError, match=f"Port {port} is already in use .*pid {other.pid}"):
            free_port_of_orphans("127.0.0.1", port, str(tmp_path / "mine"), lambda s: None)
        assert other.poll() is None
        free_port_of_orphans("127.0.0.1", port, str(tmp_path / "other"), lambda s: None)
        assert other.wait(5) == -signal.SIGKILL and port_free("127.0.0.1", port)
    finally:
        other.kill()
        other.wait()
