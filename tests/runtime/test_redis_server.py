"""The embedded redis-server: AOF keeps what was queued across a SIGKILL, a leftover server is
stopped on start, and the instance key ties a Redis to one workspace."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from studio.runtime.instance import INSTANCE_KEY, InstanceMismatch, claim_redis, instance_id
from studio.runtime.redis_server import EmbeddedRedis, ping
from studio.storage.paths import Workspace


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(Workspace(tmp_path / "rws").ensure())
    yield server
    server.stop()
    server.stop_stale()


def test_a_queued_message_survives_a_sigkill(embedded: EmbeddedRedis) -> None:
    client = redis_lib.Redis.from_url(embedded.start())
    client.lpush("studio:studio", "message-1")
    time.sleep(1.3)  # appendfsync everysec
    assert embedded.process is not None
    embedded.process.send_signal(signal.SIGKILL)
    embedded.process.wait()
    embedded.process = None
    assert not ping(embedded.url)
    client = redis_lib.Redis.from_url(embedded.start())  # the stale socket file is replaced
    assert client.lrange("studio:studio", 0, -1) == [b"message-1"]


def test_stop_stale_ends_a_leftover_server_and_a_dead_socket(embedded: EmbeddedRedis) -> None:
    embedded.start()
    leftover = embedded.process
    assert leftover is not None
    embedded.process = None  # forgotten, as by a supervisor that crashed
    fresh = EmbeddedRedis(embedded.ws)
    assert fresh.stop_stale() is True
    assert leftover.wait(10) == 0 and not ping(fresh.url)
    # a socket file nobody listens on (redis was SIGKILLed) is just removed
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(fresh.socket))
    assert fresh.socket.exists()
    assert fresh.stop_stale() is False and not fresh.socket.exists()


def test_a_redis_belongs_to_one_workspace(tmp_path: Path, redis_client: redis_lib.Redis) -> None:
    mine, other = Workspace(tmp_path / "a").ensure(), Workspace(tmp_path / "b").ensure()
    assert instance_id(mine) == instance_id(mine) != instance_id(other)
    assert claim_redis(redis_client, mine) == instance_id(mine)  # absent: first one sets it
    assert claim_redis(redis_client, mine) == instance_id(mine)
    with pytest.raises(InstanceMismatch, match="belongs to another Studio workspace"):
        claim_redis(redis_client, other)
    assert redis_client.get(INSTANCE_KEY) == instance_id(mine).encode()
    claim_redis(redis_client, other, owner=True)  # the embedded Redis is its owner's
    assert redis_client.get(INSTANCE_KEY) == instance_id(other).encode()
