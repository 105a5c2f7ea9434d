"""Admission: entitlements, then one store call that creates, serves from the cache, joins, replays
or refuses (quota, rate, budget, idempotency conflict); a store failure fails closed."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.store.generations import RedisGenerations
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.errors import (
    BudgetExhausted,
    Conflict,
    Forbidden,
    InvalidRequest,
    QuotaExceeded,
    RateLimited,
    StoreUnavailable,
)
from chalicelib.domain.events import GenerationAdmitted
from chalicelib.domain.periods import spend_keys
from chalicelib.domain.tiers import load_tiers
from chalicelib.ports import AdmitRequest, AdmitResult, StoreError
from chalicelib.services.generation.admission import Admission, window_charges
from chalicelib.services.generation.refusals import Refusals
from tests.unit.services.wiring import ANONYMOUS, API_KEY, OTHER_USER, PREMIUM, USER, Build, UseCases, request


def outcomes(use_cases: UseCases) -> list[str]:
    return [e.outcome for e in use_cases.events.of(GenerationAdmitted)]


def test_created_records_a_queued_job_charges_every_window_and_is_published(use_cases: UseCases) -> None:
    admitted = use_cases.admission.admit(USER, request(prompt="a fox", variation=2))
    assert admitted.outcome == "created"
    generation = admitted.generation
    assert generation.id.startswith("gen_")
    assert (generation.status, generation.owner, generation.lane, generation.tier) == (
        "queued",
        "u:user-1",
        "free",
        "free",
    )
    assert use_cases.record(generation.id) == generation
    assert use_cases.quota_used(USER) == [1, 1]
    assert use_cases.store.generations.open_ids() == [generation.id]
    assert admitted.rate_limit is not None and admitted.rate_limit.remaining == 4
    assert outcomes(use_cases) == ["created"]
    assert use_cases.day_stat("admit:created") == 1


def test_a_cached_result_is_served_without_a_charge(use_cases: UseCases) -> None:
    first = use_cases.admit(USER, prompt="A  Robot")
    use_cases.run_job.run(first.id)
    cached = use_cases.admission.admit(OTHER_USER, request(prompt="a robot "))
    assert cached.outcome == "cached"
    assert cached.generation.status == "succeeded"
    assert cached.generation.cached
    assert cached.generation.images == use_cases.record(first.id).images
    assert cached.generation.completed_at == cached.generation.created_at
    assert use_cases.quota_used(OTHER_USER) == [0, 0]
    assert outcomes(use_cases) == ["created", "cached"]


def test_an_identical_request_in_flight_is_joined_without_a_charge(use_cases: UseCases) -> None:
    leader = use_cases.admit(USER)
    joined = use_cases.admission.admit(OTHER_USER, request())
    assert joined.outcome == "joined"
    assert joined.generation.leader == leader.id
    assert joined.generation.status == "queued"
    assert not joined.generation.never_started
    assert use_cases.quota_used(OTHER_USER) == [0, 0]
    assert outcomes(use_cases) == ["created", "joined"]


def test_the_same_idempotency_key_replays_the_generation_charged_once(use_cases: UseCases) -> None:
    first = use_cases.admission.admit(USER, request(variation=7), idempotency_key="order-42")
    again = use_cases.admission.admit(USER, request(variation=7), idempotency_key="order-42")
    assert (first.outcome, again.outcome) == ("created", "replayed")
    assert again.generation.id == first.generation.id
    assert use_cases.quota_used(USER) == [1, 1]
    # The key is the caller's own: another caller with the same key is a new request.
    assert use_cases.admission.admit(
        OTHER_USER, request(variation=7), idempotency_key="order-42"
    ).outcome == ("joined")


def test_an_idempotency_key_reused_for_another_body_is_a_conflict(use_cases: UseCases) -> None:
    use_cases.admission.admit(USER, request(variation=1), idempotency_key="k1")
    with pytest.raises(Conflict) as refused:
        use_cases.admission.admit(USER, request(variation=2), idempotency_key="k1")
    assert refused.value.rate_limit is not None
    assert use_cases.quota_used(USER) == [1, 1]
    assert outcomes(use_cases) == ["created", "idempotency_conflict"]


def test_quota_exceeded_says_when_to_retry_and_offers_the_gallery(use_cases: UseCases) -> None:
    for variation in range(3):  # anonymous: 3 an hour, 3 a day
        use_cases.admit(ANONYMOUS, style="pixel", variation=variation)
    with pytest.raises(QuotaExceeded) as refused:
        use_cases.admission.admit(ANONYMOUS, request(style="pixel", variation=9))
    error = refused.value
    assert error.retry_after is not None and 0 < error.retry_after <= 86400
    assert error.suggestions and 0 < len(error.suggestions) <= 6
    assert error.suggestions[0]["style"] == "pixel"
    assert error.rate_limit is not None and error.rate_limit.remaining == 0
    assert use_cases.quota_used(ANONYMOUS) == [3, 3]
    assert outcomes(use_cases)[-1] == "quota_exceeded"


def test_the_request_rate_is_limited_per_minute(build: Build) -> None:
    use_cases = build(rate_per_minute=2)
    use_cases.admit(USER, variation=1)
    use_cases.admit(USER, variation=2)
    with pytest.raises(RateLimited) as refused:
        use_cases.admission.admit(USER, request(variation=3))
    assert refused.value.retry_after is not None and 1 <= refused.value.retry_after <= 60
    assert refused.value.suggestions
    assert use_cases.quota_used(USER) == [2, 2]
    use_cases.clock.advance(60)  # the next minute has its own counter
    assert use_cases.admission.admit(USER, request(variation=3)).outcome == "created"


def test_a_spent_budget_refuses_new_work_but_still_serves_the_cache(use_cases: UseCases) -> None:
    done = use_cases.admit(USER, prompt="cached")
    use_cases.run_job.run(done.id)
    use_cases.store.kv.set(spend_keys(use_cases.clock.time())[0], "25.0")  # the default daily budget
    with pytest.raises(BudgetExhausted) as refused:
        use_cases.admission.admit(USER, request(prompt="new"))
    assert refused.value.retry_after == 3600
    assert refused.value.suggestions
    assert use_cases.quota_used(USER) == [1, 1]
    # premium may go on up to the hard cap (1.5 x the budget)
    assert use_cases.admission.admit(PREMIUM, request(prompt="new")).outcome == "created"
    assert use_cases.admission.admit(OTHER_USER, request(prompt="cached")).outcome == "cached"


@pytest.mark.parametrize(
    ("identity", "changes", "error", "words"),
    [
        (USER, {"style": "no-such-style"}, InvalidRequest, "Unknown style"),
        (USER, {"quality": "pro"}, Forbidden, "quality"),
        (USER, {"size": 1024}, Forbidden, "size 1024"),
        (PREMIUM, {"quality": "pro"}, Forbidden, "quality"),
        (USER, {"callback_url": "https://client.example/hook"}, Forbidden, "callback_url"),
    ],
)
def test_entitlements_are_refused_before_any_store_call(
    use_cases: UseCases, identity: Any, changes: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        use_cases.admission.admit(identity, request(**changes))
    assert use_cases.events.events == []
    assert use_cases.store.generations.open_ids() == []


def test_an_unknown_style_names_the_field(use_cases: UseCases) -> None:
    with pytest.raises(InvalidRequest) as refused:
        use_cases.admission.check_entitlements(USER, request(style="nope"))
    assert refused.value.details == [{"field": "style", "message": "unknown style"}]


def test_enterprise_keys_may_ask_for_callbacks_pro_and_1024(use_cases: UseCases) -> None:
    admitted = use_cases.admission.admit(
        API_KEY, request(quality="pro", size=1024, callback_url="https://client.example/hook")
    )
    assert admitted.outcome == "created"
    assert admitted.generation.callback_url == "https://client.example/hook"
    assert admitted.generation.lane == "enterprise"  # its own lane
    assert admitted.generation.sizes == (128, 256, 512, 1024)


def test_overrides_for_batches_and_the_gallery(use_cases: UseCases) -> None:
    admitted = use_cases.admission.admit(
        API_KEY,
        request(),
        lane="batch",
        batch="bat_1",
        accounting_tier="gallery",
        gallery_candidate=True,
        rate=("rl:batch-counter", 1),
    )
    generation = use_cases.record(admitted.generation.id)
    assert (generation.lane, generation.batch, generation.tier, generation.gallery_candidate) == (
        "batch",
        "bat_1",
        "gallery",
        True,
    )
    with pytest.raises(RateLimited):  # the rate counter given, with its limit of 1
        use_cases.admission.admit(API_KEY, request(variation=1), rate=("rl:batch-counter", 1))


class DownGenerations(RedisGenerations):
    def admit(self, request: AdmitRequest) -> AdmitResult:
        raise StoreError("connection refused")


def test_a_store_failure_fails_closed_with_gallery_suggestions(
    use_cases: UseCases, store: RedisStateStore
) -> None:
    admission = Admission(
        generations=DownGenerations(store.keyspace),
        tiers=load_tiers(None),
        gallery=use_cases.gallery,
        policy=use_cases.policy,
        bus=use_cases.bus,
        clock=use_cases.clock,
        refusals=Refusals(use_cases.store.counters, use_cases.clock, 10),
    )
    with pytest.raises(StoreUnavailable) as refused:
        admission.admit(USER, request(style="oil"))
    assert refused.value.retry_after == 5
    assert refused.value.suggestions and refused.value.suggestions[0]["style"] == "oil"
    assert isinstance(refused.value.__cause__, StoreError)
    assert use_cases.events.events == []


class LateGenerations(RedisGenerations):
    """A store that ran the admission after the time it was sent with (admit.lua's 'expired')."""

    def admit(self, request: AdmitRequest) -> AdmitResult:
        late = AdmitRequest(**{**request.__dict__, "act_by_ms": 1})  # long past, by any clock
        return super().admit(late)


def test_an_admission_the_store_ran_too_late_is_a_503_that_charged_nothing(
    use_cases: UseCases, store: RedisStateStore
) -> None:
    admission = Admission(
        generations=LateGenerations(store.keyspace),
        tiers=load_tiers(None),
        gallery=use_cases.gallery,
        policy=use_cases.policy,
        bus=use_cases.bus,
        clock=use_cases.clock,
        refusals=Refusals(use_cases.store.counters, use_cases.clock, 10),
    )
    with pytest.raises(StoreUnavailable) as refused:
        admission.admit(USER, request(style="oil"))
    assert refused.value.retry_after == 5
    assert use_cases.events.events == []
    assert store.generations.open_ids() == []
    windows = window_charges(USER, load_tiers(None)["free"], use_cases.clock.time())
    assert windows and store.counters.quota_counts([w.key for w in windows]) == [0] * len(windows)
