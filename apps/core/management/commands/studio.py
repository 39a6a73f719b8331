"""``manage.py studio``: Redis (unless external), migrate, admin user, reconcile, workers, Daphne.

Prints the URL; Ctrl-C (SIGINT) or SIGTERM stops every child cleanly.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.services import jobs_reconcile
from apps.core.workspace import ws
from apps.experiments.services import experiments_reconcile
from apps.projects.mirror import projects_sync
from studio.runtime.redis_server import EmbeddedRedis, ping
from studio.runtime.secrets_store import store_admin_password
from studio.runtime.supervisor import Supervisor, python_argv

RECONCILE_EVERY = 20.0


class Command(BaseCommand):
    help = "Start Studio: Redis, migrations, worker(s) and the web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        parser.add_argument("--threads", type=int, default=2, help="threads per worker process")

    def handle(self, *args: Any, **opts: Any) -> None:
        redis = None
        if not os.environ.get("STUDIO_REDIS_URL"):
            redis = EmbeddedRedis(ws())
            self.stdout.write(f"Starting the embedded Redis on {redis.socket} …")
            redis.start()
        elif not ping(settings.REDIS_URL, timeout=3):
            raise CommandError(f"Redis at STUDIO_REDIS_URL={settings.REDIS_URL} does not answer.")
        sup = Supervisor()
        stopping = False

        def on_signal(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            call_command("migrate", interactive=False, verbosity=0)
            self._ensure_admin()
            projects_sync(full=True)
            counts = jobs_reconcile()
            experiments_reconcile()
            if counts["interrupted"] or counts["requeued"]:
                self.stdout.write(
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
            self.stdout.write("Press Ctrl-C to stop.")
            next_reconcile = time.monotonic() + RECONCILE_EVERY
            while not stopping:
                time.sleep(0.5)
                if (dead := sup.first_exited()) is not None:
                    raise CommandError(
                        f"The {dead[0]} process exited with code {dead[1]}; stopping Studio."
                    )
                if time.monotonic() >= next_reconcile:
                    jobs_reconcile(requeue=False)
                    experiments_reconcile()
                    next_reconcile = time.monotonic() + RECONCILE_EVERY
        finally:
            self.stdout.write("Stopping Studio …")
            sup.stop_all()
            if redis is not None:
                redis.stop()
            self.stdout.write("Stopped.")

    def _ensure_admin(self) -> None:
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
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
