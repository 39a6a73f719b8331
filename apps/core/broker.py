"""Studio's Dramatiq broker: the stock Redis broker with a short idle poll.

Dramatiq's Redis consumer backs off up to the worker's idle timeout (1 s, not settable
from ``rundramatiq``) while its queue is empty, so a job sent to an idle worker waited
0.5 to 1 s before it started. Studio's queue sees a few messages an hour; polling Redis every
100 ms at most costs nothing and makes a job start at once.
"""

from __future__ import annotations

from typing import Any

from dramatiq.brokers.redis import RedisBroker

IDLE_POLL_MS = 100


class StudioRedisBroker(RedisBroker):
    """``RedisBroker`` whose consumers wait at most ``IDLE_POLL_MS`` between empty fetches."""

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Any:
        return super().consume(queue_name, prefetch=prefetch, timeout=min(timeout, IDLE_POLL_MS))
