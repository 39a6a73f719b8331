"""``manage.py studio``: Redis (unless external), migrate, admin user, reconcile, workers, Daphne.

Prints the URL, then supervises: a child that dies (worker, web server, embedded Redis) is
restarted with backoff while the others keep running; jobs are reconciled every
``STUDIO_RECONCILE_SECONDS`` (20). Ctrl-C (SIGINT) or SIGTERM stops every child cleanly; if
this process is killed outright its children die with it, and the next start cleans up
whatever a crash left (stale socket, processes, a busy port). One instance per workspace.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from types import FrameType
from typing import IO, Any

import redis as redis_lib
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.services import jobs_reconcile
from apps.core.workspace import ws
from apps.experiments.services import experiments_reconcile
from apps.projects.mirror import projects_sync
from studio.errors import StudioError
from studio.runtime.instance import claim_redis
from studio.runtime.redis_server import EmbeddedRedis, ping
from studio.runtime.secrets_store import store_admin_password
from studio.runtime.supervisor import (
    AlreadyRunning,
    Supervisor,
    free_port_of_orphans,
    kill_leftovers,
    lock_workspace,
    python_argv,
)


def reconcile_every() -> float:
    """Seconds between two reconcile rounds (``STUDIO_RECONCILE_SECONDS``, tests shorten it)."""
    return float(os.environ.get("STUDIO_RECONCILE_SECONDS", "20"))


class Command(BaseCommand):
    help = "Start Studio: Redis, migrations, worker(s) and the web server, and keep them up."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        parser.add_argument("--threads", type=int, default=2, help="threads per worker process")

    def say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def handle(self, *args: Any, **opts: Any) -> None:
        workspace = ws()
        root = str(workspace.root.resolve())
        try:
            self._lock: IO[str] = lock_workspace(workspace.run_dir)
        except AlreadyRunning as exc:
            raise CommandError(str(exc)) from None
        record = workspace.run_dir / "studio.pids"
        kill_leftovers(record, self.say)
        try:
            free_port_of_orphans(opts["host"], opts["port"], root, self.say)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        env = {**os.environ, "STUDIO_WORKSPACE": root}  # children are recognisably ours
        sup = Supervisor(env=env, record_path=record, log=self.say)
        stopping = False

        def on_signal(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self._start_redis(sup)
            call_command("migrate", interactive=False, verbosity=0)
            self._ensure_admin()
            projects_sync(full=True)
            counts = jobs_reconcile()
            experiments_reconcile()
            if counts["interrupted"] or counts["requeued"]:
                self.say(
                    f"Jobs: {counts['interrupted']} interrupted, {counts['requeued']} re-queued."
                )
            sup.spawn(
                "worker",
                python_argv(
                    "manage.py",
                    "rundramatiq",
                    "--processes",
                    str(opts["workers"]),
                    "--threads",
                    str(opts["threads"]),
                    "--worker-shutdown-timeout",
                    "15000",
                ),
            )
            sup.spawn(
                "web",
                python_argv(
                    "-m",
                    "daphne",
                    "-b",
                    opts["host"],
                    "-p",
                    str(opts["port"]),
                    "studio.asgi:application",
                ),
            )
            host = "127.0.0.1" if opts["host"] in ("0.0.0.0", "::") else opts["host"]
            self.stdout.write(
                self.style.SUCCESS(f"Studio is running at http://{host}:{opts['port']}/")
            )
            self.say("Press Ctrl-C to stop.")
            next_reconcile = time.monotonic() + reconcile_every()
            while not stopping:
                time.sleep(0.5)
                sup.tend()
                if time.monotonic() >= next_reconcile:
                    self._reconcile(requeue=False)
                    next_reconcile = time.monotonic() + reconcile_every()
        finally:
            self.say("Stopping Studio …")
            sup.stop_all()
            self.say("Stopped.")

    def _start_redis(self, sup: Supervisor) -> None:
        """The embedded Redis as a supervised child, or a check of the external one."""
        if os.environ.get("STUDIO_REDIS_URL"):
            if not ping(settings.REDIS_URL, timeout=3):
                raise CommandError(
                    f"Redis at STUDIO_REDIS_URL={settings.REDIS_URL} does not answer."
                )
            self._claim(owner=False)
            return
        server = EmbeddedRedis(ws())
        if server.stop_stale():
            self.say("Stopped a redis-server left running by a previous run.")
        self.say(f"Starting the embedded Redis on {server.socket} …")

        def started(restarted: bool) -> None:
            self._claim(owner=True)
            if restarted:  # the last second of queue writes may be lost: send queued jobs again
                self._reconcile(requeue=True)

        sup.spawn(
            "redis",
            server.command(),
            death_signal=signal.SIGTERM,  # redis flushes its AOF on SIGTERM
            stop_last=True,
            before=server.prepare,
            ready=server.wait_ready,
            after_start=started,
        )

    def _claim(self, owner: bool) -> None:
        client = redis_lib.Redis.from_url(settings.REDIS_URL, socket_timeout=3)
        try:
            claim_redis(client, ws(), owner=owner)
        except StudioError as exc:
            raise CommandError(exc.message) from None
        finally:
            client.close()

    def _reconcile(self, requeue: bool) -> None:
        """One reconcile round; a failure is logged, never fatal to the supervisor."""
        try:
            counts = jobs_reconcile(requeue=requeue)
            experiments_reconcile()
        except Exception as exc:
            print(f"Reconciling jobs failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        if counts["interrupted"] or counts["requeued"] or counts["pending"]:
            self.say(
                f"Jobs: {counts['interrupted']} interrupted, {counts['requeued']} sent, "
                f"{counts['pending']} waiting for the broker."
            )

    def _ensure_admin(self) -> None:
        if User.objects.filter(is_superuser=True).exists():
            self.say(
                f"Log in with your account (first admin password: {ws().secrets_dir / 'admin_password'})."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "", password)
        path = store_admin_password(ws(), password)
        self.stdout.write(
            self.style.WARNING(
                f"Created user 'admin' with password: {password}\n(shown once; also stored in {path})"
            )
        )
