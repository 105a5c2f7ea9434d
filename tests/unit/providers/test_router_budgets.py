"""ProviderRouter: each attempt's budget leaves room for the candidates after it.

The same fake clock, fake providers and real breakers (embedded Redis) as ``test_router.py``; the
providers here record the ``within_s`` they are given, and a hanging one uses all of it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.ports import ProviderRequest, ProviderResult, RetryableProviderError
from chalicelib.services.routing.router import ProviderRouter
from tests.unit.providers.test_router import POLICY, FakeClock, FakeProvider, rig


class BudgetedProvider(FakeProvider):
    """Records each ``within_s``; ``hang=True``: uses the whole budget, then times out (as an
    adapter whose every call is bounded by ``within_s`` does when the vendor never answers)."""

    def __init__(self, *args: Any, hang: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hang = hang
        self.budgets: list[float] = []

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        assert within_s is not None
        self.budgets.append(within_s)
        if not self.hang:
            return super().generate(request)
        self.calls += 1
        assert self.clock is not None
        self.clock.advance(within_s)
        raise RetryableProviderError(f"{self.name}: timed out (ReadTimeout)")


def test_the_primary_leaves_the_reserve_for_the_second(store: RedisStateStore) -> None:
    clock = FakeClock()
    fal = BudgetedProvider("fal", clock=clock, latency_s=1.0)
    together = BudgetedProvider("together", ("fast",), clock=clock)
    r = rig(store, fal, together, clock=clock, deadline_s=25.0, attempt_reserve_s=8.0)
    assert r.generate().provider == "fal"
    assert fal.budgets == [pytest.approx(17.0)]  # 25 s less 8 s kept for Together
    assert together.budgets == []


def test_a_primary_that_uses_its_whole_budget_still_lets_the_second_answer_in_time(
    store: RedisStateStore,
) -> None:
    clock = FakeClock()
    fal = BudgetedProvider("fal", clock=clock, hang=True)
    together = BudgetedProvider("together", ("fast",), clock=clock, latency_s=3.0)
    r = rig(store, fal, together, clock=clock, deadline_s=25.0, attempt_reserve_s=8.0)
    started = clock.monotonic()
    result = r.generate()
    assert result.provider == "together"
    assert r.tried() == [("fal", "retryable", None), ("together", None, None)]
    assert fal.budgets == [pytest.approx(17.0)]
    assert together.budgets == [pytest.approx(8.0)]  # the last candidate: all that is left
    assert clock.monotonic() - started == pytest.approx(20.0)  # within the 25 s deadline


def test_every_later_vendor_gets_its_reserve_and_the_fallback_a_minimal_one(store: RedisStateStore) -> None:
    clock = FakeClock()
    names = ("fal", "together", "replicate", "runpod")
    vendors = [BudgetedProvider(name, ("fast",), clock=clock, hang=True) for name in names]
    fallback = BudgetedProvider("procedural", ("fast",), clock=clock)
    r = rig(store, *vendors, fallback=fallback, clock=clock, deadline_s=25.0, attempt_reserve_s=5.0)
    assert r.generate().provider == "procedural"
    # fal: 25 - 3 * 5 - 1 (the fallback's min_attempt_s) = 9; then 16 - 2 * 5 - 1 = 5; 11 - 5 - 1 = 5;
    # runpod, before the fallback only: 6 - 1 = 5; the fallback: the last second.
    assert [v.budgets for v in vendors] == [[pytest.approx(b)] for b in (9.0, 5.0, 5.0, 5.0)]
    assert fallback.budgets == [pytest.approx(1.0)]


def test_a_budget_is_never_below_an_equal_share_of_the_time_left(store: RedisStateStore) -> None:
    clock = FakeClock()
    fal = BudgetedProvider("fal", clock=clock, hang=True)
    together = BudgetedProvider("together", ("fast",), clock=clock)
    r = rig(store, fal, together, clock=clock, deadline_s=6.0, attempt_reserve_s=8.0)
    assert r.generate().provider == "together"
    assert fal.budgets == [pytest.approx(3.0)]  # 6 - 8 < 0: half of the 6 s instead
    assert together.budgets == [pytest.approx(3.0)]


def test_no_reserve_is_kept_for_a_provider_whose_breaker_is_open(store: RedisStateStore) -> None:
    clock = FakeClock()
    for _ in range(POLICY.failure_threshold):
        store.breakers.record("together", "failure", int(clock.now * 1000), POLICY, kind="down")
    fal = BudgetedProvider("fal", clock=clock)
    together = BudgetedProvider("together", ("fast",), clock=clock)
    r = rig(store, fal, together, clock=clock, deadline_s=25.0, attempt_reserve_s=8.0)
    assert r.generate().provider == "fal"
    assert fal.budgets == [pytest.approx(25.0)]  # Together would be skipped anyway


def test_the_reserve_comes_from_the_settings(tmp_path: Any, store: RedisStateStore) -> None:
    from chalicelib.bootstrap import build_provider
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path,
        fal_key="fal-test",
        together_api_key="tg-test",
        provider_deadline_seconds=12.0,
        provider_attempt_reserve_seconds=5.0,
    )
    router = build_provider(settings, store.breakers)
    assert isinstance(router, ProviderRouter)
    later = router.candidates("fast")[1:]
    now = time.monotonic()
    ends = router._attempt_deadline(now + 12.0, later, {})
    assert ends - now == pytest.approx(7.0, abs=0.5)  # 12 s less 5 s for Together
