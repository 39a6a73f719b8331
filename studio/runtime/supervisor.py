"""Process supervision for ``manage.py studio``: start children, restart the ones that die,
stop them all on exit, and clean up what a crashed supervisor left behind.

No scheduler of our own: the children are the stock ``redis-server``, ``rundramatiq`` and
``daphne``. Contracts:

- A child that exits is restarted after a backoff (1 s doubling to 30 s; back to 1 s once a
  child had stayed up a minute); each exit is logged with its code.
- Children die with the supervisor, even on SIGKILL: each gets a parent-death signal
  (Linux ``prctl``), and every descendant carries ``STUDIO_SUPERVISOR=<pid>:<start time>`` in
  its environment, so a later start finds and kills any survivor of this instance.
- One supervisor per workspace: ``.run/studio.lock`` is held (``flock``) while it runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from studio.runtime import procs

TAG_VAR = "STUDIO_SUPERVISOR"
Log = Callable[[str], None]


class AlreadyRunning(RuntimeError):
    """Another supervisor holds this workspace's lock."""


def lock_workspace(run_dir: Path) -> IO[str]:
    """Hold ``run_dir/studio.lock`` for this process's life (the kernel drops it at death).

    Raises :class:`AlreadyRunning` with a sentence naming the holder's pid.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    fh = (run_dir / "studio.lock").open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "?"
        fh.close()
        raise AlreadyRunning(
            f"Studio is already running on this workspace (supervisor pid {holder}); "
            f"stop it first (Ctrl-C in its terminal, or kill {holder})."
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def self_tag() -> str:
    """``pid:start-time`` of this process: unique across pid reuse."""
    return f"{os.getpid()}:{procs.start_time(os.getpid()) or 0}"


def tagged_pids(tag: str) -> list[int]:
    """Every live process of this user whose environment says it descends from ``tag``."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                pid = int(entry.name)
                if procs.environ_value(pid, TAG_VAR) == tag and procs.is_alive(pid):
                    found.append(pid)
    return found


def kill_leftovers(record_path: Path, log: Log, grace: float = 5.0) -> int:
    """Kill what a previous (crashed) supervisor of this workspace left running.

    A process counts as ours when it is recorded in ``record_path`` with the same start time,
    or a descendant of one, or carries the previous supervisor's tag in its environment.
    redis-server gets SIGTERM first (it flushes its AOF), the rest SIGKILL. Returns how many.
    """
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return 0
    victims: dict[int, str] = {}
    for child in record.get("children", []):
        pid, started = int(child.get("pid", 0)), child.get("start")
        if pid and procs.is_alive(pid) and procs.start_time(pid) == started:
            victims[pid] = child.get("name", "?")
            for sub in procs.descendants(pid):
                victims.setdefault(sub, child.get("name", "?"))
    if tag := record.get("tag"):
        for pid in tagged_pids(tag):
            victims.setdefault(pid, "?")
    if not victims:
        record_path.unlink(missing_ok=True)
        return 0
    log(f"Stopping {len(victims)} process(es) left by a previous run: {sorted(victims)}")
    for pid, name in victims.items():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM if name == "redis" else signal.SIGKILL)
    deadline = time.monotonic() + grace
    while any(procs.is_alive(p) for p in victims) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in victims:
        if procs.is_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    record_path.unlink(missing_ok=True)
    return len(victims)


def port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_of_orphans(host: str, port: int, workspace_root: str, log: Log) -> None:
    """Kill a web server of this workspace that still listens on ``port`` (an orphan of a
    crashed run). Raises RuntimeError when another program holds the port."""
    if port_free(host, port):
        return
    holders = procs.listening_pids(port)
    ours = [p for p in holders if procs.environ_value(p, "STUDIO_WORKSPACE") == workspace_root]
    for pid in ours:
        log(f"Port {port} is held by pid {pid}, a leftover of this workspace; stopping it.")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if port_free(host, port):
            return
        time.sleep(0.1)
    others = sorted(set(holders) - set(ours))
    who = f" (pid {', '.join(map(str, others))})" if others else ""
    raise RuntimeError(
        f"Port {port} is already in use by another program{who}; "
        f"stop it or choose another port with --port."
    )


@dataclass
class Child:
    """One supervised program and its restart state."""

    name: str
    argv: list[str]
    death_signal: int = signal.SIGKILL
    stop_last: bool = False
    before: Callable[[], None] | None = None
    ready: Callable[[subprocess.Popen[bytes]], Any] | None = None
    after_start: Callable[[bool], None] | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = 0.0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Owns child processes; ``tend`` restarts the dead ones, ``stop_all`` ends them."""

    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    record_path: Path | None = None
    log: Log = field(default=lambda line: print(line, flush=True))
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    stable_after: float = 60.0
    children: list[Child] = field(default_factory=list)
    tag: str = field(default_factory=self_tag)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        death_signal: int = signal.SIGKILL,
        stop_last: bool = False,
        before: Callable[[], None] | None = None,
        ready: Callable[[subprocess.Popen[bytes]], Any] | None = None,
        after_start: Callable[[bool], None] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a child now and keep it running. ``ready`` blocks until it serves (and raises
        if it cannot); ``after_start(restarted)`` runs after each successful start."""
        child = Child(name, list(argv), death_signal, stop_last, before, ready, after_start)
        self.children.append(child)
        self._start(child)
        assert child.proc is not None
        return child.proc

    def _start(self, child: Child) -> None:
        if child.before is not None:
            child.before()
        # Own session: a Ctrl-C in the terminal reaches only us, and we stop the children in
        # order. The parent-death signal makes them die with us all the same.
        child.proc = subprocess.Popen(
            child.argv,
            env={**self.env, TAG_VAR: self.tag},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=procs.child_preexec(child.death_signal),
        )
        child.started_at = time.monotonic()
        self._write_record()
        if child.ready is not None:
            child.ready(child.proc)
        if child.after_start is not None:
            child.after_start(child.restarts > 0)

    def tend(self) -> None:
        """Schedule a restart for each child that exited; start those whose time has come."""
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if child.restart_at is None and proc is not None and proc.poll() is not None:
                uptime = now - child.started_at
                child.delay = (
                    self.backoff_initial
                    if uptime >= self.stable_after or child.delay == 0
                    else min(child.delay * 2, self.backoff_max)
                )
                child.restart_at = now + child.delay
                self.log(
                    f"The {child.name} process (pid {proc.pid}) exited with code "
                    f"{proc.returncode}; restarting it in {child.delay:g} s."
                )
            elif child.restart_at is not None and now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                try:
                    self._start(child)
                except Exception as exc:  # e.g. redis-server did not come up: try again later
                    self.log(f"Restarting the {child.name} process failed: {exc}")
                    self._kill(child)
                    continue
                assert child.proc is not None
                self.log(f"Restarted the {child.name} process (pid {child.proc.pid}).")

    def _kill(self, child: Child) -> None:
        if child.proc is not None and child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()

    def _write_record(self) -> None:
        if self.record_path is None:
            return
        live = [
            {"name": c.name, "pid": c.proc.pid, "start": procs.start_time(c.proc.pid)}
            for c in self.children
            if c.proc is not None
        ]
        record = {"supervisor": os.getpid(), "tag": self.tag, "children": live}
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.record_path)

    def stop_all(self, timeout: float = 20.0) -> None:
        """SIGTERM to the children (web and workers first, then the ``stop_last`` ones such as
        Redis), SIGKILL after ``timeout``; then forget them."""
        for last in (False, True):
            group = [c for c in reversed(self.children) if c.stop_last == last and c.proc]
            for child in group:
                assert child.proc is not None
                if child.proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for child in group:
                assert child.proc is not None
                try:
                    child.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._kill(child)
        self.children.clear()
        if self.record_path is not None:
            self.record_path.unlink(missing_ok=True)


def python_argv(*args: str) -> list[str]:
    """Run ``manage.py`` with the same interpreter (the project's venv)."""
    return [sys.executable, *args]
