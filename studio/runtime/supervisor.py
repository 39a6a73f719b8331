"""Process supervision for ``manage.py studio``: start children, stop them all on exit.

No scheduler of our own: the children are the stock ``rundramatiq`` and ``daphne``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Supervisor:
    """Owns child processes; ``stop_all`` ends them newest first (web, then workers)."""

    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def spawn(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        # Own process group: a Ctrl-C in the terminal reaches us, and we stop the
        # children in order instead of all of them dying at once.
        proc = subprocess.Popen(
            list(argv), env=self.env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.children.append((name, proc))
        return proc

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.children:
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop_all(self, timeout: float = 20.0) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _name, proc in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.children.clear()


def python_argv(*args: str) -> list[str]:
    """Run ``manage.py`` with the same interpreter (the project's venv)."""
    return [sys.executable, *args]
