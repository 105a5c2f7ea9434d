"""The refusal limit in the admit script (``admit.lua``), on every adapter: the embedded Redis and
the Upstash adapter through the REST harness. An identity whose counter of refused prompts for the
hour has reached the limit is refused every request (``rate_limited`` until the hour's end), in the
call every request makes anyway: nothing charged, nothing recorded."""

from __future__ import annotations

from chalicelib.ports import AdmitRequest, AdmitResult, Counter
from chalicelib.services.generation.refusals import RefusalWindow
from tests.contract import test_state_store as contract
from tests.contract.test_state_store import Backend, Windows, gen_id, new_generation, now_ms

store_backend = contract.backend  # every test runs on each adapter


def admit(backend: Backend, ident: str, req_hash: str, at: int, *, limit: int = 10) -> AdmitResult:
    window = RefusalWindow.of(ident, at / 1000)
    return backend.store.generations.admit(
        AdmitRequest(
            generation=new_generation(gen_id(), ident, req_hash),
            windows=Windows(ident).charges(at),
            rate_key=f"rl:{ident}",
            rate_limit=120,
            rate_reset_at=at // 1000 + 60,
            now_ms=at,
            deadline_ms=at + 900_000,
            refusals_key=window.key,
            refusals_limit=limit,
            refusals_reset_at=window.reset_at,
        )
    )


def refuse(backend: Backend, ident: str, at: int, times: int) -> float:
    window = RefusalWindow.of(ident, at / 1000)
    total = 0.0
    for _ in range(times):
        (total,) = backend.store.counters.add_and_read([Counter(window.key, 1, 3700)])
    return total


def test_an_identity_at_the_limit_is_refused_until_the_hour_ends(store_backend: Backend) -> None:
    at = now_ms()
    hour_end = (at // 1000 // 3600 + 1) * 3600
    assert refuse(store_backend, "u1", at, 9) == 9
    below = admit(store_backend, "u1", "h1", at)
    assert below.outcome == "created"

    assert refuse(store_backend, "u1", at, 1) == 10
    blocked = admit(store_backend, "u1", "h2", at)
    assert blocked.outcome == "rate_limited"
    assert blocked.generation is None
    assert blocked.retry_after == max(hour_end - at // 1000, 1)
    assert (blocked.limit, blocked.remaining, blocked.reset_at) == (10, 0, hour_end)
    # Nothing charged: the quota counters hold the one request admitted below the limit.
    assert store_backend.store.counters.quota_counts(Windows("u1").keys) == [1, 1]

    # Another identity, and the same identity in the next hour, are not affected.
    assert admit(store_backend, "u2", "h3", at).outcome == "created"
    next_hour = hour_end * 1000 + 1000
    assert admit(store_backend, "u1", "h4", next_hour).outcome == "created"


def test_a_limit_of_zero_is_no_limit(store_backend: Backend) -> None:
    at = now_ms()
    refuse(store_backend, "u1", at, 50)
    assert admit(store_backend, "u1", "h1", at, limit=0).outcome == "created"
