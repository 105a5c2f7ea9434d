"""The redis-py client of the embedded store: one short socket timeout, and a longer one per call."""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.scripts import script
from chalicelib.ports import StoreError


def test_a_blocking_call_passes_its_own_timeout(redis_server: Any) -> None:
    short = Redis(
        unix_socket_path=redis_server.socket_file,
        decode_responses=True,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    client = RedisPyClient(short)
    started = time.monotonic()
    with pytest.raises(StoreError, match="BLPOP failed: TimeoutError"):
        client.command("BLPOP", "rpc:empty", 1)  # the server would answer in 1 s: too late
    assert time.monotonic() - started < 0.5

    started = time.monotonic()
    assert client.command("BLPOP", "rpc:empty", 1, timeout=3) is None  # the server's own "nothing"
    assert 0.9 < time.monotonic() - started < 2.5
    # The override has its pool: the default calls keep the short timeout, and both work.
    assert client.command("SET", "rpc:k", "v") is True
    assert client.command("GET", "rpc:k", timeout=3) == "v"
    assert client.run_script(script("statuses"), ["rpc:none"], [], timeout=3) == [""]
    client.close()
    assert client.command("GET", "rpc:k") == "v"  # connections are made again
