"""``Counters.add`` (counters_add.lua), on every adapter: the embedded Redis and the Upstash
adapter through the REST harness."""

from __future__ import annotations

from chalicelib.ports import Counter
from tests.contract import test_state_store as contract
from tests.contract.test_state_store import Backend

store_backend = contract.backend  # every test runs on each adapter


def test_counters_are_added_in_one_call_with_their_ttl(store_backend: Backend) -> None:
    counters, raw, prefix = store_backend.store.counters, store_backend.raw, store_backend.prefix
    assert counters.add([Counter("c:n", 1, 600), Counter("c:usd", 0.0125, 600), Counter("c:forever", 2, 0)])
    assert counters.add([Counter("c:n", 1, 600), Counter("c:usd", 0.0025, 600)])
    assert counters.values(["c:n", "c:usd", "c:forever", "c:none"]) == [2.0, 0.0125 + 0.0025, 2.0, 0.0]
    assert 0 < int(raw.command("TTL", f"{prefix}c:n")) <= 600
    assert int(raw.command("TTL", f"{prefix}c:forever")) == -1


def test_once_adds_only_for_the_first_call_of_a_marker(store_backend: Backend) -> None:
    counters, raw, prefix = store_backend.store.counters, store_backend.raw, store_backend.prefix
    assert counters.add([Counter("c:adopted", 1, 600)], once=("m:gen_1", 60)) is True
    assert counters.add([Counter("c:adopted", 1, 600)], once=("m:gen_1", 60)) is False
    assert counters.add([Counter("c:adopted", 1, 600)], once=("m:gen_2", 60)) is True
    assert counters.values(["c:adopted"]) == [2.0]
    assert 0 < int(raw.command("TTL", f"{prefix}m:gen_1")) <= 60


def test_add_and_read_returns_the_new_totals_in_one_call(store_backend: Backend) -> None:
    counters, raw, prefix = store_backend.store.counters, store_backend.raw, store_backend.prefix
    assert counters.add_and_read([Counter("r:n", 1, 600), Counter("r:usd", 0.25, 0)]) == [1.0, 0.25]
    assert counters.add_and_read([Counter("r:n", 1, 600), Counter("r:usd", 0.5, 0)]) == [2.0, 0.75]
    assert counters.add_and_read([]) == []
    assert counters.quota_counts(["r:n"]) == [2]  # an integer total reads back as an integer
    assert 0 < int(raw.command("TTL", f"{prefix}r:n")) <= 600
