"""The Upstash REST harness (``stack/upstash.py``) as pytest fixtures for the tests.

Use them from a test module with ``from tests.upstash_harness import upstash_harness_fixture``
(registered under the name ``upstash_harness``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.store.upstash import UpstashClient
from stack.upstash import TOKEN, UpstashHarness, running_harness

__all__ = ["TOKEN", "UpstashHarness", "running_harness", "upstash_client_fixture", "upstash_harness_fixture"]


@pytest.fixture(name="upstash_harness")
def upstash_harness_fixture(redis_server: Any) -> Iterator[UpstashHarness]:
    """A fresh harness (its own port, no faults, zero counts) on the session's embedded Redis.

    Use it from a test module with ``from tests.upstash_harness import upstash_harness_fixture``
    (registered under the name ``upstash_harness``)."""
    with running_harness(redis_server.socket_file) as harness:
        yield harness


@pytest.fixture(name="upstash_client")
def upstash_client_fixture(upstash_harness: UpstashHarness) -> Iterator[UpstashClient]:
    """The production adapter with its production timeouts, pointed at the harness."""
    client = UpstashClient(upstash_harness.url, upstash_harness.token)
    yield client
    client.close()
