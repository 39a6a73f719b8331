"""The broker polls an idle queue every 100 ms at most: a job sent to an idle worker starts at once."""

from __future__ import annotations

import dramatiq

from apps.core.broker import IDLE_POLL_MS, StudioRedisBroker


def test_the_configured_broker_is_studios() -> None:
    assert isinstance(dramatiq.get_broker(), StudioRedisBroker)


def test_an_idle_consumer_waits_at_most_the_idle_poll(redis_client: object) -> None:
    broker = dramatiq.get_broker()
    consumer = broker.consume("studio-test-idle", prefetch=1, timeout=1000)  # the worker's 1 s
    try:
        assert consumer.timeout == IDLE_POLL_MS == 100  # type: ignore[attr-defined]
    finally:
        consumer.close()
