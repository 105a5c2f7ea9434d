"""The key pool on its own: round robin, retirement that runs out, a cool-down from Retry-After."""

from __future__ import annotations

from chalicelib.adapters.key_pool import KeyPool, fingerprint
from chalicelib.domain.events import ProviderKeyChanged


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_retired_key_comes_back_after_its_retirement_and_says_so() -> None:
    clock = Clock()
    events: list[ProviderKeyChanged] = []
    pool = KeyPool("fal", ["a-key", "b-key"], retire_s=60, cooldown_s=5, clock=clock, on_change=events.append)
    assert [pool.acquire() for _ in range(4)] == ["a-key", "b-key", "a-key", "b-key"]
    assert pool.report("a-key", 401) is True  # b-key is usable: send the request again with it
    assert {pool.acquire() for _ in range(3)} == {"b-key"}
    clock.now += 61
    assert "a-key" in {pool.acquire() for _ in range(2)}
    assert [(e.change, e.fingerprint) for e in events] == [
        ("retired", fingerprint("a-key")),
        ("restored", fingerprint("a-key")),
    ]
    assert all(isinstance(e, ProviderKeyChanged) and "a-key" not in repr(e) for e in events)


def test_a_throttled_key_cools_for_its_retry_after_and_a_lone_key_is_still_used() -> None:
    clock = Clock()
    pool = KeyPool("together", ["only-key"], clock=clock)
    assert pool.report("only-key", 429, retry_after=10) is False  # no other key: the answer stands
    assert pool.healthy() == []
    assert pool.acquire() == "only-key"  # the breaker decides whether the vendor is called at all
    clock.now += 10
    assert pool.healthy() == [fingerprint("only-key")]
    assert pool.report("only-key", 500) is False  # not a key problem
    assert "only-key" not in repr(pool)
