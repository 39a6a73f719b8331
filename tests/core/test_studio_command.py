"""``manage.py studio`` on a fresh workspace: embedded Redis, migrate, admin, worker, web; Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, wait_for_port

pytestmark = pytest.mark.worker


def test_studio_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    ws = tmp_path / "fresh"
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("STUDIO_REDIS_URL", "STUDIO_DB_PATH", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        STUDIO_WORKSPACE=str(ws), DJANGO_SETTINGS_MODULE="studio.settings", PYTHONUNBUFFERED="1"
    )
    log = tmp_path / "studio.log"
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "studio", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while "Studio is running at" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        wait_for_port(port)
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/" in text
        password = re.search(r"password: (\S+)", text)
        assert password, text
        secret = ws / ".secrets" / "admin_password"
        assert secret.read_text().strip() == password.group(1)
        assert oct(secret.stat().st_mode & 0o777) == "0o600"
        assert (ws / "workspace.json").exists() and (ws / "mirror.sqlite3").exists()
        redis_pid = int((ws / ".run" / "redis.pid").read_text())
        opener = urllib.request.build_opener(urllib.request.HTTPRedirectHandler())
        page = opener.open(f"http://127.0.0.1:{port}/", timeout=10)
        assert "/login/" in page.geturl()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        assert proc.wait(60) == 0, log.read_text()
        assert "Stopped." in log.read_text()
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=3)
        time.sleep(0.5)
        with pytest.raises(ProcessLookupError):
            os.kill(redis_pid, 0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
