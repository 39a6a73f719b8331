"""Shared fixtures: per-test workspace, a real Redis, real workers and a real Daphne."""

from __future__ import annotations

import os

# Sleep, don't spin, when PyTorch's OpenMP threads wait: the test process, its workers and
# its Daphne share two cores, and spinning threads starve each other (a 2-epoch run went from
# 9 s to 100 s). Children inherit it; it only works before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from django.conf import settings as django_settings

from studio.runtime.redis_server import EmbeddedRedis
from studio.storage.paths import Workspace

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "accuracy: end-to-end accuracy target (minutes of training; make test-accuracy)"
    )


TEST_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """The Redis that the test settings point at (workspace-independent socket)."""
    server = EmbeddedRedis(django_settings.WORKSPACE)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, settings: Any, redis_server: EmbeddedRedis) -> Workspace:
    """Every test gets an empty workspace of its own."""
    ws = Workspace(tmp_path / "ws").ensure()
    settings.WORKSPACE = ws
    return ws


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Never the network, never the real weights cache: an empty TORCH_HOME per test.

    Workers and servers a test starts inherit the environment.
    """
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    return home


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> redis_lib.Redis:
    client = redis_lib.Redis.from_url(redis_server.url)
    client.flushall()
    return client


def subprocess_env(ws: Workspace, **extra: str) -> dict[str, str]:
    """Environment for a child process that shares this test's workspace, DB and Redis."""
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # servers keep Django's async-safety checks
    env.update(
        STUDIO_WORKSPACE=str(ws.root),
        STUDIO_DB_PATH=str(django_settings.DATABASES["default"]["NAME"]),
        STUDIO_REDIS_URL=django_settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONUNBUFFERED="1",
        STUDIO_TEST_CHILD="1",
    )
    env.update(extra)
    return env


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def start_worker(
    workspace: Workspace, redis_client: redis_lib.Redis, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start real ``manage.py rundramatiq`` processes (each like a separate machine)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str = "worker", threads: int = 2, **env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "rundramatiq",
                "--processes",
                "1",
                "--threads",
                str(threads),
                "--worker-shutdown-timeout",
                "5000",
            ],
            cwd=ROOT,
            env=subprocess_env(workspace, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        stop_process(proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


@pytest.fixture
def live_server_url(workspace: Workspace, tmp_path: Path, transactional_db: None) -> Iterator[str]:
    """A real Daphne serving this test's workspace and database."""
    port = free_port()
    log = (tmp_path / "daphne.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "studio.asgi:application",
        ],
        cwd=ROOT,
        env=subprocess_env(workspace),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=TEST_PASSWORD)


@pytest.fixture
def api(user: Any) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def anon_api() -> Any:
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    """A staff user: sees every project and every job (alice sees only her projects)."""
    return django_user_model.objects.create_user("ops", password=TEST_PASSWORD, is_staff=True)


@pytest.fixture
def staff_api(staff_user: Any) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff_user)
    return client


# ---- browser ---------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = (
            f"Chromium is not installed at {CHROMIUM}; install it with: apt-get install chromium"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


# Every browser test also checks the Content-Security-Policy conversion: a blocked script or
# style, or an Alpine expression the CSP build cannot run, fails the test that met it.
# Chromium logs each violation to the console; the init script also reports it there (with the
# directive), and Alpine's CSP build logs "Alpine Expression Error" / "CSP Parser Error".
CSP_PROBE = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""
CSP_PROBLEMS = (
    "CSP violation",
    "Content Security Policy",
    "Alpine Expression Error",
    "CSP Parser Error",
    "prohibited in the CSP build",
    "Alpine Warning",
)


def csp_problems(messages: list[str]) -> list[str]:
    """The console messages that show a CSP violation or an Alpine expression failure."""
    return [m for m in messages if any(p in m for p in CSP_PROBLEMS)]


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    pg.add_init_script(CSP_PROBE)
    pg.console_messages_seen = []
    pg.on("console", lambda m: pg.console_messages_seen.append(f"{m.type}: {m.text}"))
    yield pg
    context.close()
    problems = csp_problems(pg.console_messages_seen)
    if problems:
        pytest.fail("CSP / Alpine problems in the browser:\n" + "\n".join(problems[:20]))


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ for a human to look at."""
    folder = ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def logged_in_page(page: Any, live_server_url: str, user: Any) -> Any:
    page.goto(f"{live_server_url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")
    page.base_url = live_server_url
    return page
