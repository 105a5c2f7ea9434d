"""``EventCounters.add_within_rate`` (events_add.lua), on every adapter: the embedded Redis and the
Upstash adapter through the REST harness."""

from __future__ import annotations

import time

from chalicelib.ports import Counter
from chalicelib.ports.analytics import RateWindow
from tests.contract import test_state_store as contract
from tests.contract.test_state_store import Backend

store_backend = contract.backend  # every test runs on each adapter


def rate(limit: int) -> RateWindow:
    minute = int(time.time()) // 60
    return RateWindow(f"rl:ev:{minute}", limit, (minute + 1) * 60)


def test_counters_are_added_within_the_rate_with_their_ttl(store_backend: Backend) -> None:
    events, raw, prefix = store_backend.store.analytics, store_backend.raw, store_backend.prefix
    window = rate(3)  # one window for the whole test (a minute that turns would start a new one)
    first = events.add_within_rate(
        window, [Counter("f:d:gallery_viewed", 2, 600), Counter("f:d:avatar_chosen", 1, 600)]
    )
    assert first.allowed and first.count == 1
    assert events.add_within_rate(window, [Counter("f:d:gallery_viewed", 1, 600)]).allowed
    assert store_backend.store.counters.values(["f:d:gallery_viewed", "f:d:avatar_chosen"]) == [3.0, 1.0]
    assert 0 < int(raw.command("TTL", f"{prefix}f:d:gallery_viewed")) <= 600
    assert 0 < int(raw.command("TTL", f"{prefix}{window.key}")) <= 65


def test_over_the_rate_nothing_is_added(store_backend: Backend) -> None:
    events = store_backend.store.analytics
    window = rate(2)
    for _ in range(2):
        assert events.add_within_rate(window, [Counter("f:d:style_chosen", 1, 600)]).allowed
    refused = events.add_within_rate(window, [Counter("f:d:style_chosen", 5, 600)])
    assert not refused.allowed and refused.count == 3
    assert store_backend.store.counters.values(["f:d:style_chosen"]) == [2.0]
