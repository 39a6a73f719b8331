"""Dramatiq middleware for every worker process: die with the parent, refuse a foreign Redis.

- ``rundramatiq`` forks its worker processes; the parent-death signal of the main process
  (set by the supervisor) is not inherited across ``fork``, so each worker process sets its
  own: when the Dramatiq main process dies, even by SIGKILL, its workers die too.
- Before consuming anything, the worker checks that the broker's Redis belongs to this
  workspace (``studio:instance``, see ``studio.runtime.instance``) and exits with a clear log
  line otherwise (the supervisor restarts it with backoff; a human must fix the setup).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
from typing import Any

import dramatiq
import redis

from apps.core.workspace import ws
from studio.runtime import procs
from studio.runtime.instance import InstanceMismatch, claim_redis

log = logging.getLogger(__name__)

EXIT_WRONG_REDIS = 3


class WorkerGuard(dramatiq.Middleware):
    """Hooks run in each forked worker process (``after_process_boot``), not in web servers."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        parent = multiprocessing.parent_process()
        if parent is not None and parent.pid is not None:
            procs.die_with_parent(signal.SIGKILL, parent.pid)
        client: Any = getattr(broker, "client", None)
        if not isinstance(client, redis.Redis):
            return  # a stub broker (tests) has no Redis to check
        try:
            claim_redis(client, ws())
        except InstanceMismatch as exc:
            log.critical("Worker %s refuses to start: %s", os.getpid(), exc.message)
            sys.exit(EXIT_WRONG_REDIS)
        except redis.RedisError as exc:
            log.critical("Worker %s cannot reach Redis to check it: %s", os.getpid(), exc)
            sys.exit(EXIT_WRONG_REDIS)
