"""ProviderHealthCheck: whether some candidate of a quality is worth calling now (its shared breaker
not open, not cooling down), kept ``ttl_s`` per quality on the injected clock."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.store.breakers import RedisBreakers
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.ports import BreakerPolicy, ImageProvider, ProviderHealth, StoreError
from chalicelib.services.generation.provider_health import ProviderHealthCheck
from tests.fakes import FakeClock
from tests.unit.services.fakes import NOW, QuickProvider

OPEN_AT_ONCE = BreakerPolicy(failure_threshold=1, cooldown_s=30.0)


class Routed(QuickProvider):
    """A router in front of AI vendors: ``routes`` are the candidates per quality."""

    def __init__(self, routes: dict[str, list[str]], tracked: tuple[str, ...] = ("fal", "replicate")) -> None:
        super().__init__(name="router")
        self.routes = routes
        self.tracked = tracked

    @property
    def vendors(self) -> tuple[str, ...]:
        return self.tracked

    def candidates(self, quality: str) -> Sequence[ImageProvider]:
        return [QuickProvider(name=name) for name in self.routes.get(quality, [])]


class CountingBreakers(RedisBreakers):
    reads = 0
    down = False

    def health(self, names: Sequence[str]) -> dict[str, ProviderHealth]:
        self.reads += 1
        if self.down:
            raise StoreError("timeout")
        return super().health(names)


def setup(
    store: RedisStateStore, routes: dict[str, list[str]], **kw: tuple[str, ...]
) -> tuple[ProviderHealthCheck, CountingBreakers, FakeClock]:
    breakers = CountingBreakers(store.keyspace)
    clock = FakeClock(NOW)
    return ProviderHealthCheck(breakers, Routed(routes, **kw), clock=clock, ttl_s=5.0), breakers, clock


def open_breaker(store: RedisStateStore, clock: FakeClock, name: str) -> None:
    store.breakers.record(name, "failure", int(clock.time() * 1000), OPEN_AT_ONCE)


def test_healthy_while_one_candidate_is_available(store: RedisStateStore) -> None:
    check, _, clock = setup(store, {"fast": ["fal", "replicate"]})
    open_breaker(store, clock, "fal")
    assert check("fast")
    open_breaker(store, clock, "replicate")
    clock.advance(5)
    assert not check("fast")


def test_the_answer_is_kept_for_the_ttl_per_quality(store: RedisStateStore) -> None:
    check, breakers, clock = setup(store, {"fast": ["fal"], "pro": ["fal"]})
    assert check("fast")
    open_breaker(store, clock, "fal")
    clock.advance(4.9)
    assert check("fast")  # cached: no store read
    assert breakers.reads == 1
    assert not check("pro")  # another quality has its own entry
    clock.advance(0.1)
    assert not check("fast")
    assert breakers.reads == 3


def test_a_breaker_half_open_after_its_cooldown_is_worth_a_trial(store: RedisStateStore) -> None:
    check, _, clock = setup(store, {"fast": ["fal"]})
    open_breaker(store, clock, "fal")
    assert not check("fast")
    clock.advance(31)
    assert check("fast")


def test_a_cooling_provider_is_not_available(store: RedisStateStore) -> None:
    check, _, clock = setup(store, {"fast": ["fal"]})
    store.breakers.record("fal", "throttled", int(clock.time() * 1000), OPEN_AT_ONCE, retry_after=60)
    assert not check("fast")
    clock.advance(61)
    assert check("fast")


def test_nothing_to_route_or_an_untracked_fallback_counts_as_healthy(store: RedisStateStore) -> None:
    check, breakers, clock = setup(store, {"fast": ["fal", "procedural"], "pro": []})
    open_breaker(store, clock, "fal")
    assert check("fast")  # the offline renderer behind it has no breaker
    assert check("pro")  # no candidate: the call itself says why
    assert breakers.reads == 0


def test_a_store_failure_reads_as_healthy(store: RedisStateStore) -> None:
    check, breakers, clock = setup(store, {"fast": ["fal"]})
    open_breaker(store, clock, "fal")
    breakers.down = True
    assert check("fast")
    assert breakers.reads == 1
