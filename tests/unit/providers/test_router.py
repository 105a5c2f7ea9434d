"""ProviderRouter: candidates, failure classes, breakers shared through the real store, deadline.

Fake providers and a fake clock; the breakers live in the real RedisStateStore on the embedded
Redis (the ``store`` fixture), and the breaker script is also run through the Upstash REST harness.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.providers.fal import FalProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.procedural import ProceduralProvider
from chalicelib.adapters.store.breakers import RedisBreakers
from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.bootstrap import build_provider
from chalicelib.ports import (
    BreakerPolicy,
    ContentRejected,
    ImageProvider,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    ProviderHealth,
    ProviderRequest,
    ProviderResult,
    RetryableProviderError,
    StoreError,
    breaker_outcome,
)
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.routing.policy import RetryPolicy, RoutingPolicy
from chalicelib.services.routing.router import (
    AllProvidersFailed,
    Attempt,
    ProviderRouter,
)
from tests.conftest import make_settings
from tests.fakes import CountingRedis
from tests.unit.providers.helpers import make_request
from tests.upstash_harness import running_harness

T0 = 1_700_000_000.0  # wall clock of the fake, seconds


class FakeClock:
    """Wall clock and monotonic clock in one, moved by hand (and by slow fake providers)."""

    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - T0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


class FakeProvider(ImageProvider):
    """An image provider that answers from a script of outcomes, then with ``default``."""

    def __init__(
        self,
        name: str,
        qualities: tuple[str, ...] = ("fast", "standard"),
        *,
        clock: FakeClock | None = None,
        latency_s: float = 0.0,
    ) -> None:
        self.name = name
        self.qualities = qualities
        self.clock = clock
        self.latency_s = latency_s
        self.script: list[Exception | None] = []
        self.default: Exception | None = None
        self.calls = 0

    def supports(self, quality: str) -> bool:
        return quality in self.qualities

    def fail(self, error: Exception | None) -> FakeProvider:
        self.default = error
        return self

    def then(self, *outcomes: Exception | None) -> FakeProvider:
        self.script.extend(outcomes)
        return self

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        self.calls += 1
        if self.clock is not None:
            self.clock.advance(self.latency_s)
        outcome = self.script.pop(0) if self.script else self.default
        if outcome is not None:
            raise outcome
        return ProviderResult(
            image=b"image", provider=self.name, model=f"{self.name}-model", cost_usd=0.003, latency_ms=12.0
        )


@dataclass
class Rig:
    router: ProviderRouter
    store: RedisStateStore
    clock: FakeClock
    attempts: list[Attempt]
    providers: dict[str, FakeProvider]

    def health(self, name: str) -> ProviderHealth:
        return self.store.breakers.health([name])[name]

    def state(self, name: str) -> str:
        return self.health(name).state(int(self.clock.now * 1000))

    def generate(self, quality: str = "fast") -> ProviderResult:
        self.attempts.clear()
        return self.router.generate(make_request(quality))

    def tried(self) -> list[tuple[str, str | None, str | None]]:
        return [(a.provider, a.error_kind, a.skipped) for a in self.attempts]


@pytest.fixture
def logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.LogCaptureFixture]:
    """Every ``avatarflow.*`` record, once, whether or not the app's JSON logging (which stops
    propagation at ``avatarflow``) has been configured by an earlier test."""
    logger = logging.getLogger("avatarflow")
    caplog.set_level(logging.INFO, logger="avatarflow")
    monkeypatch.setattr(logger, "propagate", False)
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


POLICY = BreakerPolicy(failure_threshold=3, cooldown_s=30.0, max_cooldown_s=300.0, auth_open_s=3600.0)


def rig(
    store: RedisStateStore,
    *providers: FakeProvider,
    fallback: Any = None,
    clock: FakeClock | None = None,
    **options: Any,
) -> Rig:
    clock = clock or FakeClock()
    attempts: list[Attempt] = []
    rng = options.pop("rng", random.random)
    router = ProviderRouter(
        providers,
        store.breakers,
        fallback=fallback,
        policy=RoutingPolicy(breaker=options.pop("policy", POLICY), **options),
        clock=clock,
        rng=rng,
        bus=MessageBus({Attempt: [attempts.append]}),
    )
    return Rig(router, store, clock, attempts, {p.name: p for p in providers})


def two(store: RedisStateStore, **options: Any) -> Rig:
    """fal first, Together second, for ``fast``."""
    return rig(store, FakeProvider("fal"), FakeProvider("together", ("fast",)), **options)


# -- candidates --------------------------------------------------------------------------------


def test_candidates_per_quality_follow_the_routes_and_the_configuration(store: RedisStateStore) -> None:
    fal = FakeProvider("fal", ("fast", "standard"))
    together = FakeProvider("together", ("fast", "standard"))
    replicate = FakeProvider("replicate", ("fast", "standard"))
    runpod = FakeProvider("runpod", ("fast",))
    openai = FakeProvider("openai", ("fast", "standard", "pro"))
    fallback = ProceduralProvider()
    # Given in any order: the route decides.
    router = ProviderRouter([openai, runpod, replicate, together, fal], store.breakers, fallback=fallback)

    def names(quality: str) -> list[str]:
        return [p.name for p in router.candidates(quality)]

    assert names("fast") == ["fal", "together", "replicate", "runpod", "procedural"]
    assert names("standard") == ["fal", "replicate", "procedural"]
    assert names("pro") == ["openai", "procedural"]  # fal has no pro model configured

    only_some = ProviderRouter([replicate, openai], store.breakers)
    assert [p.name for p in only_some.candidates("fast")] == ["replicate"]
    assert [p.name for p in only_some.candidates("pro")] == ["openai"]
    assert only_some.candidates("ultra") == []

    fal_pro = FakeProvider("fal", ("fast", "standard", "pro"))
    assert [p.name for p in ProviderRouter([openai, fal_pro], store.breakers).candidates("pro")] == [
        "fal",
        "openai",
    ]


def test_no_candidate_for_a_quality_is_provider_down_without_a_call(store: RedisStateStore) -> None:
    r = rig(store, FakeProvider("fal"))
    with pytest.raises(ProviderDown) as raised:
        r.generate("pro")
    assert raised.value.kind == "down"
    assert r.providers["fal"].calls == 0


def test_the_same_provider_twice_is_a_configuration_error(store: RedisStateStore) -> None:
    with pytest.raises(ValueError, match="twice"):
        ProviderRouter([FakeProvider("fal"), FakeProvider("fal")], store.breakers)


def test_breaker_outcome_classification() -> None:
    assert breaker_outcome(RetryableProviderError("x")) == "failure"
    assert breaker_outcome(RetryableProviderError("x", retry_after=30)) == "throttled"
    assert breaker_outcome(RetryableProviderError("x", retry_after=0)) == "failure"
    assert breaker_outcome(ProviderDown("x")) == "failure"
    assert breaker_outcome(ProviderBadRequest("x")) == "neutral"
    assert breaker_outcome(ProviderAuthError("x")) == "auth"
    assert breaker_outcome(ContentRejected("x")) == "success"


# -- failing over ------------------------------------------------------------------------------


def test_healthy_primary_serves_and_costs_one_store_read(redis_server: Any) -> None:
    counting = CountingRedis(RedisPyClient(redis_server))
    store = RedisStateStore(counting, prefix="router-rt:")
    r = two(store)
    result = r.generate()
    assert (result.provider, result.model, result.cost_usd) == ("fal", "fal-model", 0.003)
    assert r.tried() == [("fal", None, None)]
    assert r.providers["together"].calls == 0
    assert counting.calls == ["command:MGET"]  # one read of every breaker; nothing written


@pytest.mark.parametrize(
    "error",
    [
        RetryableProviderError("fal: HTTP 503: overloaded"),
        RetryableProviderError("fal: timed out (ReadTimeout)"),
        ProviderDown("fal: cannot connect to the API"),
    ],
)
def test_retryable_or_down_primary_fails_over_at_once(store: RedisStateStore, error: ProviderError) -> None:
    r = two(store)
    r.providers["fal"].fail(error)
    result = r.generate()
    assert result.provider == "together"
    assert r.tried() == [("fal", error.kind, None), ("together", None, None)]
    assert r.providers["fal"].calls == 1  # a POST is never repeated on a provider that does not dedup
    assert r.clock.slept == []
    assert r.health("fal").failures == 1


def test_attempt_latency_is_recorded_per_provider(store: RedisStateStore) -> None:
    clock = FakeClock()
    fal = FakeProvider("fal", clock=clock, latency_s=2.5).fail(RetryableProviderError("fal: 502"))
    together = FakeProvider("together", ("fast",), clock=clock, latency_s=1.25)
    r = rig(store, fal, together, clock=clock)
    r.generate()
    assert [(a.provider, a.latency_ms, a.error_kind) for a in r.attempts] == [
        ("fal", 2500.0, "retryable"),
        ("together", 1250.0, None),
    ]


def test_bad_request_goes_on_and_never_counts(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].fail(ProviderBadRequest("fal: HTTP 422: image_size not accepted"))
    for _ in range(5):
        assert r.generate().provider == "together"
    assert r.providers["fal"].calls == 5
    assert r.health("fal") == ProviderHealth("fal")  # nothing recorded at all


def test_content_rejected_is_raised_at_once_and_never_tried_elsewhere(store: RedisStateStore) -> None:
    fallback = FakeProvider("procedural", ("fast",))
    r = rig(store, FakeProvider("fal"), FakeProvider("together", ("fast",)), fallback=fallback)
    r.providers["fal"].fail(ContentRejected("fal: the safety checker flagged the image"))
    with pytest.raises(ContentRejected, match="safety checker"):
        r.generate()
    assert r.providers["together"].calls == 0
    assert fallback.calls == 0
    assert r.tried() == [("fal", "content_rejected", None)]


def test_content_rejected_proves_the_provider_healthy(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].then(RetryableProviderError("502"), RetryableProviderError("502"))
    r.generate()
    r.generate()
    assert r.health("fal").failures == 2
    r.providers["fal"].then(ContentRejected("fal: nsfw"))
    with pytest.raises(ContentRejected):
        r.generate()
    assert r.health("fal").failures == 0


def test_all_down_raises_provider_down_listing_each_attempt(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].fail(RetryableProviderError("fal: HTTP 500"))
    r.providers["together"].fail(ProviderDown("together: HTTP 404"))
    with pytest.raises(AllProvidersFailed) as raised:
        r.generate()
    assert isinstance(raised.value, ProviderDown)
    assert raised.value.kind == "down"
    assert [(a.provider, a.error_kind) for a in raised.value.attempts] == [
        ("fal", "retryable"),
        ("together", "down"),
    ]
    assert "fal: retryable" in str(raised.value)
    assert "together: down" in str(raised.value)


def test_procedural_fallback_is_last_and_has_no_breaker(store: RedisStateStore) -> None:
    fallback = FakeProvider("procedural", ("fast",))
    r = rig(store, FakeProvider("fal"), fallback=fallback)
    r.providers["fal"].fail(RetryableProviderError("fal: 500"))
    for _ in range(5):
        assert r.generate().provider == "procedural"
    assert r.tried() == [("fal", None, "open"), ("procedural", None, None)]
    assert store.breakers.health(["procedural"])["procedural"] == ProviderHealth("procedural")


def test_an_unexpected_adapter_exception_counts_as_down(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].fail(KeyError("images"))
    assert r.generate().provider == "together"
    assert r.tried()[0] == ("fal", "down", None)
    assert r.health("fal").failures == 1


# -- breakers ----------------------------------------------------------------------------------


def test_breaker_opens_after_n_consecutive_failures(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].fail(RetryableProviderError("fal: HTTP 500"))
    for expected in (1, 2):
        r.generate()
        assert (r.health("fal").failures, r.state("fal")) == (expected, "closed")
    r.generate()
    health = r.health("fal")
    assert r.state("fal") == "open"
    assert health.open_until_ms == round((r.clock.now + 30) * 1000)
    assert health.reason == "retryable"

    r.generate()
    assert r.providers["fal"].calls == 3  # skipped while open
    assert r.tried() == [("fal", None, "open"), ("together", None, None)]


def test_a_success_resets_the_count_of_consecutive_failures(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].then(RetryableProviderError("500"), RetryableProviderError("500"), None)
    r.providers["fal"].then(RetryableProviderError("500"), RetryableProviderError("500"))
    for _ in range(5):
        r.generate()
    assert r.state("fal") == "closed"
    assert r.health("fal").failures == 2


def test_half_open_lets_one_trial_through_and_closes_on_success(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].then(*[RetryableProviderError("500")] * 3)
    for _ in range(3):
        r.generate()
    r.clock.advance(29.9)
    r.generate()
    assert r.tried()[0] == ("fal", None, "open")

    r.clock.advance(0.1)
    assert r.state("fal") == "half_open"
    # Another Lambda takes the trial first: this one goes elsewhere.
    now_ms = int(r.clock.now * 1000)
    assert store.breakers.claim_trial("fal", now_ms, 30_000) is True
    r.generate()
    assert r.tried() == [("fal", None, "trial_taken"), ("together", None, None)]
    assert r.providers["fal"].calls == 3

    # That trial never reports back (its Lambda died): the lease ends and a new trial may go.
    r.clock.advance(30)
    assert r.generate().provider == "fal"
    assert r.providers["fal"].calls == 4
    assert r.state("fal") == "closed"
    assert r.health("fal") == ProviderHealth("fal")


def test_only_one_claim_of_a_half_open_trial_wins(store: RedisStateStore) -> None:
    now_ms = 1_700_000_000_000
    for _ in range(3):
        store.breakers.record("fal", "failure", now_ms, POLICY, kind="retryable")
    later = now_ms + 30_000
    claims = [store.breakers.claim_trial("fal", later + i, 25_000) for i in range(5)]
    assert claims == [True, False, False, False, False]
    assert store.breakers.claim_trial("together", later, 25_000) is True  # closed: always


def test_failed_trial_reopens_with_a_doubled_cool_down_up_to_the_maximum(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].fail(RetryableProviderError("fal: HTTP 500"))
    for _ in range(3):
        r.generate()
    cool_downs = []
    for _ in range(6):
        health = r.health("fal")
        r.clock.now = health.open_until_ms / 1000 - 0.5
        r.generate()
        assert r.tried()[0] == ("fal", None, "open")
        r.clock.advance(0.5)
        r.generate()  # the trial, which fails
        assert r.tried()[0] == ("fal", "retryable", None)
        reopened = r.health("fal")
        cool_downs.append((reopened.open_until_ms - round(r.clock.now * 1000)) / 1000)
    assert cool_downs == [60, 120, 240, 300, 300, 300]
    assert r.providers["fal"].calls == 3 + 6


def test_a_trial_that_proves_nothing_releases_the_slot(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].then(*[RetryableProviderError("500")] * 3, ProviderBadRequest("422"))
    for _ in range(3):
        r.generate()
    r.clock.advance(30)
    r.generate()
    assert r.tried()[0] == ("fal", "bad_request", None)
    assert r.state("fal") == "half_open"
    assert r.health("fal").trial_until_ms == 0
    assert r.generate().provider == "fal"  # the next caller gets the trial, and it succeeds
    assert r.state("fal") == "closed"


def test_429_with_retry_after_cools_the_provider_for_everyone_then_expires(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].then(RetryableProviderError("fal: HTTP 429: slow down", retry_after=30.0))
    assert r.generate().provider == "together"
    assert r.tried() == [("fal", "retryable", None), ("together", None, None)]
    assert r.clock.slept == []  # no waiting: the next provider, now

    # Another Lambda (another router on the same store) skips fal too.
    other = rig(store, FakeProvider("fal"), FakeProvider("together", ("fast",)), clock=r.clock)
    r.clock.advance(29)
    assert other.generate().provider == "together"
    assert other.tried()[0] == ("fal", None, "cooling")
    assert other.providers["fal"].calls == 0
    health = r.health("fal")
    assert health.failures == 0  # a throttle is not a failure
    assert r.state("fal") == "closed"

    r.clock.advance(1)
    assert r.generate().provider == "fal"
    assert r.providers["fal"].calls == 2


def test_retry_after_is_honoured_up_to_a_cap(store: RedisStateStore) -> None:
    r = two(store)
    r.providers["fal"].then(RetryableProviderError("429", retry_after=86_400.0))
    r.generate()
    cooling = r.health("fal").cooling_until_ms
    assert cooling == round((r.clock.now + POLICY.max_cooling_s) * 1000)


def test_auth_failure_opens_for_long_and_alerts_without_the_key(
    store: RedisStateStore, logs: pytest.LogCaptureFixture
) -> None:
    key = "fal-key-0123456789:secretpart0123456789"
    fal = FalProvider(key, ProviderOptions(base_url="https://fal.test"))
    clock = FakeClock()
    together = FakeProvider("together", ("fast",))
    router = ProviderRouter(
        [fal, together],
        store.breakers,
        policy=RoutingPolicy(breaker=POLICY),
        clock=clock,
    )
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post("https://fal.test/fal-ai/flux/schnell").mock(
            return_value=httpx.Response(
                403, json={"detail": f"User is locked. Reason: Exhausted balance. Key {key} has no credit."}
            )
        )
        assert router.generate(make_request()).provider == "together"
        alerts = [r for r in logs.records if r.name == "avatarflow.alerts"]
        assert len(alerts) == 1
        assert alerts[0].levelno == logging.ERROR
        assert alerts[0].__dict__["provider"] == "fal"
        assert "fal" in alerts[0].getMessage()
        assert any(r.name == "avatarflow.providers" for r in logs.records)  # attempts are logged too
        assert key not in logs.text
        assert "secretpart0123456789" not in logs.text
        assert "fal-key-0123456789" not in logs.text

        health = store.breakers.health(["fal"])["fal"]
        assert health.reason == "auth"
        assert health.open_until_ms == round((clock.now + 3600) * 1000)
        clock.advance(3599)
        router.generate(make_request())
        assert route.call_count == 1
        clock.advance(1)  # half-open: one trial, which fails the same way and opens it again
        router.generate(make_request())
        assert route.call_count == 2
        assert store.breakers.health(["fal"])["fal"].open_until_ms == round((clock.now + 3600) * 1000)
    fal.close()


# -- retries and the deadline -----------------------------------------------------------------


class DedupProvider(FakeProvider):
    dedups_requests = True


def test_a_provider_that_dedups_is_retried_with_jittered_backoff(store: RedisStateStore) -> None:
    dedup = DedupProvider("fal").then(RetryableProviderError("500"), RetryableProviderError("500"))
    r = rig(
        store, dedup, FakeProvider("together", ("fast",)), retry=RetryPolicy(3, 0.5, 4.0), rng=lambda: 0.5
    )
    assert r.generate().provider == "fal"
    assert dedup.calls == 3
    assert r.clock.slept == [0.25, 0.5]  # full jitter: rng * min(cap, base * 2**n)
    assert r.health("fal") == ProviderHealth("fal")


def test_retries_stop_at_the_bound_and_never_wait_out_a_throttle(store: RedisStateStore) -> None:
    dedup = DedupProvider("fal").fail(RetryableProviderError("500"))
    r = rig(store, dedup, FakeProvider("together", ("fast",)), retry=RetryPolicy(3, 0.5, 4.0))
    assert r.generate().provider == "together"
    assert dedup.calls == 3
    assert r.health("fal").failures == 1  # one routing attempt, one failure

    throttled = DedupProvider("fal").fail(RetryableProviderError("429", retry_after=5.0))
    r2 = rig(store, throttled, FakeProvider("together", ("fast",)), clock=r.clock)
    r.clock.advance(1000)
    assert r2.generate().provider == "together"
    assert throttled.calls == 1


def test_the_deadline_stops_the_routing(store: RedisStateStore) -> None:
    clock = FakeClock()
    slow = FakeProvider("fal", clock=clock, latency_s=24.5).fail(RetryableProviderError("fal: timed out"))
    together = FakeProvider("together", ("fast",), clock=clock)
    fallback = FakeProvider("procedural", ("fast",))
    r = rig(store, slow, together, fallback=fallback, clock=clock, deadline_s=25.0)
    with pytest.raises(AllProvidersFailed) as raised:
        r.generate()
    assert together.calls == 0
    assert fallback.calls == 0
    assert [(a.provider, a.error_kind, a.skipped) for a in raised.value.attempts] == [
        ("fal", "retryable", None),
        ("together", None, "deadline"),
    ]


class DeadlineAwareProvider(FakeProvider):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budgets: list[float] = []

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        assert within_s is not None
        self.budgets.append(within_s)
        return super().generate(request)


def test_the_time_left_is_passed_to_providers_that_take_it(store: RedisStateStore) -> None:
    clock = FakeClock()
    slow = FakeProvider("fal", clock=clock, latency_s=10.0).fail(RetryableProviderError("500"))
    aware = DeadlineAwareProvider("together", ("fast",), clock=clock)
    r = rig(store, slow, aware, clock=clock, deadline_s=25.0)
    assert r.generate().provider == "together"
    assert aware.budgets == [pytest.approx(15.0)]


# -- the store ---------------------------------------------------------------------------------


class BrokenBreakers(RedisBreakers):
    def health(self, names: Any) -> dict[str, ProviderHealth]:
        raise StoreError("down")

    def record(self, *args: Any, **kwargs: Any) -> ProviderHealth:
        raise StoreError("down")


def test_an_unreachable_store_never_fails_a_generation(redis_server: Any) -> None:
    store = RedisStateStore(RedisPyClient(redis_server), prefix="broken:")
    store.breakers = BrokenBreakers(store.keyspace)
    r = two(store)
    r.providers["fal"].fail(RetryableProviderError("500"))
    assert r.generate().provider == "together"
    r.providers["fal"].fail(None)
    assert r.generate().provider == "fal"


@pytest.fixture(params=["embedded", "upstash"])
def any_store(request: pytest.FixtureRequest, redis_server: Any, tmp_path: Path) -> Iterator[RedisStateStore]:
    prefix = f"brk-{request.param}-{tmp_path.name}:"
    if request.param == "embedded":
        yield RedisStateStore(RedisPyClient(redis_server), prefix)
        return
    with running_harness(redis_server.socket_file) as harness:
        client = UpstashClient(harness.url, harness.token)
        yield RedisStateStore(client, prefix)
        client.close()


def test_breaker_script_runs_the_same_on_redis_and_upstash(
    any_store: RedisStateStore, redis_server: Any
) -> None:
    store = any_store
    now = 1_700_000_000_000
    assert store.breakers.health([]) == {}
    assert store.breakers.health(["fal", "together"]) == {
        "fal": ProviderHealth("fal"),
        "together": ProviderHealth("together"),
    }
    for n in (1, 2):
        assert store.breakers.record("fal", "failure", now, POLICY, kind="down").failures == n
    opened = store.breakers.record("fal", "failure", now, POLICY, kind="down")
    assert (opened.open_until_ms, opened.cooldown_ms, opened.reason) == (now + 30_000, 30_000, "down")
    assert opened.state(now) == "open"
    assert opened.state(now + 30_000) == "half_open"
    ttl_ms = int(redis_server.pttl(f"{store.keyspace.prefix}breaker:fal"))
    assert 30_000 < ttl_ms <= 30_000 + round(POLICY.memory_s * 1000)

    assert store.breakers.claim_trial("fal", now + 29_999, 10_000) is False
    assert store.breakers.claim_trial("fal", now + 30_000, 10_000) is True
    assert store.breakers.claim_trial("fal", now + 30_001, 10_000) is False
    reopened = store.breakers.record("fal", "failure", now + 30_500, POLICY, kind="retryable")
    assert (reopened.open_until_ms, reopened.cooldown_ms) == (now + 30_500 + 60_000, 60_000)

    cooled = store.breakers.record("together", "throttled", now, POLICY, retry_after=12.5, kind="retryable")
    assert (cooled.cooling_until_ms, cooled.failures) == (now + 12_500, 0)
    assert store.breakers.claim_trial("together", now + 1_000, 10_000) is False

    locked = store.breakers.record("openai", "auth", now, POLICY, kind="auth")
    assert (locked.open_until_ms, locked.reason) == (now + 3_600_000, "auth")

    closed = store.breakers.record("fal", "success", now + 100_000, POLICY)
    assert closed == ProviderHealth("fal")
    assert int(redis_server.exists(f"{store.keyspace.prefix}breaker:fal")) == 0  # healthy: nothing kept

    read = store.breakers.health(["fal", "together", "openai"])
    assert read["fal"] == ProviderHealth("fal")
    assert read["together"] == cooled
    assert read["openai"] == locked


# -- bootstrap ---------------------------------------------------------------------------------


def test_no_key_at_all_keeps_the_procedural_renderer_alone(tmp_path: Path, store: RedisStateStore) -> None:
    provider = build_provider(make_settings(tmp_path), store.breakers)
    assert isinstance(provider, ProceduralProvider)


def test_keys_build_the_router_in_route_order(tmp_path: Path, store: RedisStateStore) -> None:
    settings = make_settings(
        tmp_path,
        openai_api_key="sk-test",
        runpod_api_key="rp-test",
        runpod_endpoint_id="abc123",
        replicate_api_token="r8-test",
        together_api_key="tg-test",
        fal_key="fal-test",
    )
    router = build_provider(settings, store.breakers)
    assert isinstance(router, ProviderRouter)
    assert router.name == "router"
    assert [p.name for p in router.candidates("fast")] == ["fal", "together", "replicate", "runpod"]
    assert [p.name for p in router.candidates("standard")] == ["fal", "replicate"]
    assert [p.name for p in router.candidates("pro")] == ["fal", "openai"]  # FLUX1.1 [pro], then DALL-E 3
    assert "sk-test" not in repr(router)


def test_procedural_fallback_defaults_on_in_local_only(tmp_path: Path, store: RedisStateStore) -> None:
    def fast_names(**settings: Any) -> list[str]:
        router = build_provider(make_settings(tmp_path, fal_key="fal-test", **settings), store.breakers)
        assert isinstance(router, ProviderRouter)
        return [p.name for p in router.candidates("fast")]

    assert fast_names() == ["fal"]  # stage "test"
    assert fast_names(stage="local") == ["fal", "procedural"]
    assert fast_names(stage="local", procedural_fallback=False) == ["fal"]
    assert fast_names(stage="prod", procedural_fallback=True) == ["fal", "procedural"]


def test_runpod_without_an_endpoint_is_skipped_with_an_alert(
    tmp_path: Path, store: RedisStateStore, logs: pytest.LogCaptureFixture
) -> None:
    router = build_provider(make_settings(tmp_path, runpod_api_key="rp-secret", fal_key="f"), store.breakers)
    assert isinstance(router, ProviderRouter)
    assert router.vendors == ("fal",)
    assert any(r.name == "avatarflow.alerts" and "RUNPOD_ENDPOINT_ID" in r.getMessage() for r in logs.records)
    assert "rp-secret" not in logs.text


def test_bad_price_overrides_fail_at_startup(tmp_path: Path, store: RedisStateStore) -> None:
    with pytest.raises(ValueError, match="JSON"):
        build_provider(make_settings(tmp_path, fal_key="f", provider_prices="{nope"), store.breakers)
