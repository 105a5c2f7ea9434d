"""FinishGeneration: a success stores every size and ends the job once (with its spend and stats);
a failure refunds once; an exception maps to the contract's error code."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidRequest, ProviderUnavailable
from chalicelib.domain.events import GenerationFinished, SpendRecorded
from chalicelib.domain.generation import Failure
from chalicelib.domain.periods import spend_keys
from chalicelib.ports import ContentRejected, ProviderDown, ProviderResult, RetryableProviderError
from chalicelib.services.generation.finish import NO_PROVIDER, failure_for
from chalicelib.services.generation.run_job import provider_request
from tests.unit.services.fakes import QuickProvider
from tests.unit.services.wiring import OTHER_USER, PREMIUM, USER, Build, UseCases, request

FAILED = Failure("provider_unavailable", NO_PROVIDER)


def made(use_cases: UseCases, generation_id: str, cost: float = 0.0) -> ProviderResult:
    provider = QuickProvider(name="fal", cost_usd=cost)
    return provider.generate(provider_request(use_cases.record(generation_id)))


def spent_today(use_cases: UseCases, suffix: str = "") -> float:
    return use_cases.store.counters.values([spend_keys(use_cases.clock.time())[0] + suffix])[0]


def test_succeed_stores_every_size_and_ends_the_job(use_cases: UseCases) -> None:
    running = use_cases.claimed(USER, size=512)
    use_cases.clock.advance(3)
    assert use_cases.finish.succeed(running, made(use_cases, running.id)) is not None

    stored = use_cases.record(running.id)
    assert stored.status == "succeeded"
    assert stored.images is not None and set(stored.images) == {"128", "256", "512"}
    for key in stored.images.values():
        assert key.startswith("img/") and key.endswith(".webp")
        assert use_cases.images.exists(key)
    assert use_cases.stored_keys() == set(stored.images.values())
    assert stored.provider == "fal"
    assert stored.model == "quick-v1"
    assert stored.completed_at is not None and stored.completed_at > stored.created_at
    assert stored.lease_until_ms == 0
    assert use_cases.store.generations.open_ids() == []
    assert use_cases.quota_used(USER) == [1, 1]  # a success keeps its charge

    (finished,) = use_cases.events.of(GenerationFinished)
    assert finished.generation.status == "succeeded"
    assert finished.generation.id == running.id
    assert finished.generation.images == stored.images
    assert use_cases.events.of(SpendRecorded) == []  # the renderer is free
    assert use_cases.day_stat("status:succeeded") == 1
    assert use_cases.day_stat("tier:free") == 1
    assert use_cases.day_stat("provider:fal:ok") == 1
    assert use_cases.day_stat("latency:fal:le250") == 1


def test_a_1024_job_is_stored_in_four_sizes(use_cases: UseCases) -> None:
    running = use_cases.claimed(PREMIUM, size=1024)
    use_cases.finish.succeed(running, made(use_cases, running.id))
    assert set(use_cases.record(running.id).images or {}) == {"128", "256", "512", "1024"}


def test_a_paid_job_records_its_spend_with_the_end(use_cases: UseCases) -> None:
    running = use_cases.claimed(USER)
    assert use_cases.finish.succeed(running, made(use_cases, running.id, cost=0.025))
    assert use_cases.events.of(SpendRecorded) == [SpendRecorded("fal", "free", 0.025)]
    assert spent_today(use_cases) == pytest.approx(0.025)
    assert spent_today(use_cases, ":provider:fal") == pytest.approx(0.025)
    assert spent_today(use_cases, ":tier:free") == pytest.approx(0.025)
    assert use_cases.record(running.id).cost_usd == pytest.approx(0.025)


def test_a_job_that_had_already_ended_is_not_ended_twice_but_its_spend_is_published(
    use_cases: UseCases,
) -> None:
    running = use_cases.claimed(USER)
    result = made(use_cases, running.id, cost=0.01)
    assert use_cases.finish.succeed(running, result) is not None
    assert use_cases.finish.succeed(running, result) is None  # a late duplicate (say a second provider run)
    assert use_cases.finish.fail(running, FAILED) is None
    assert len(use_cases.events.of(GenerationFinished)) == 1
    assert use_cases.events.of(SpendRecorded) == [SpendRecorded("fal", "free", 0.01)] * 2
    assert use_cases.record(running.id).status == "succeeded"
    assert use_cases.day_stat("status:succeeded") == 1
    assert use_cases.day_stat("status:failed") == 0


def test_the_spend_of_a_late_duplicate_reaches_the_spend_counters(use_cases: UseCases) -> None:
    running = use_cases.claimed(USER)
    result = made(use_cases, running.id, cost=0.01)
    use_cases.finish.succeed(running, result)
    use_cases.finish.succeed(running, result)
    assert spent_today(use_cases) == pytest.approx(0.02)


def test_an_unusable_image_is_a_provider_failure_and_ends_nothing(use_cases: UseCases) -> None:
    running = use_cases.claimed(USER)
    broken = ProviderResult(b"<html>not an image</html>", "fal", "m", 0.0, 10.0)
    with pytest.raises(ProviderUnavailable, match="unusable image"):
        use_cases.finish.succeed(running, broken)
    assert use_cases.record(running.id).status == "running"
    assert use_cases.events.of(GenerationFinished) == []
    assert use_cases.stored_keys() == set()


def test_fail_refunds_the_charge_exactly_once(use_cases: UseCases) -> None:
    kept = use_cases.admit(USER, variation=1)
    failing = use_cases.claimed(USER, variation=2)
    assert use_cases.quota_used(USER) == [2, 2]
    assert use_cases.finish.fail(failing, FAILED) is not None
    assert use_cases.quota_used(USER) == [1, 1]
    assert use_cases.finish.fail(failing, FAILED) is None
    assert use_cases.quota_used(USER) == [1, 1]  # refunded once; the other job keeps its charge

    stored = use_cases.record(failing.id)
    assert (stored.status, stored.error, stored.refunded, stored.charged) == ("failed", FAILED, True, ())
    assert use_cases.record(kept.id).status == "queued"
    (finished,) = use_cases.events.of(GenerationFinished)
    assert finished.generation.status == "failed" and finished.generation.refunded
    assert use_cases.day_stat("status:failed") == 1


def test_identical_requests_that_joined_end_with_the_job(use_cases: UseCases) -> None:
    leader = use_cases.claimed(USER)
    follower = use_cases.admission.admit(OTHER_USER, request()).generation
    use_cases.finish.succeed(leader, made(use_cases, leader.id))
    ended = use_cases.record(follower.id)
    assert ended.status == "succeeded"
    assert ended.images == use_cases.record(leader.id).images


def test_the_finished_event_counts_the_requests_that_ended_with_the_job(use_cases: UseCases) -> None:
    leader = use_cases.claimed(USER)
    use_cases.admission.admit(OTHER_USER, request())
    use_cases.finish.succeed(leader, made(use_cases, leader.id))
    (finished,) = use_cases.events.of(GenerationFinished)
    assert finished.followers == 1


@pytest.mark.parametrize(
    ("exc", "code", "failed_stat"),
    [
        (ContentRejected("nsfw"), "content_rejected", 0),
        (ProviderDown("503"), "provider_unavailable", 1),
        (RetryableProviderError("timeout"), "provider_unavailable", 1),
        (
            ProviderUnavailable("The provider returned an unusable image (corrupt)."),
            "provider_unavailable",
            1,
        ),
        (InvalidRequest("unknown style"), "invalid_request", 0),
        (KeyError("boom"), "internal", 0),
    ],
)
def test_fail_for_maps_errors_to_codes_and_counts_the_failed_provider(
    use_cases: UseCases, exc: Exception, code: str, failed_stat: int
) -> None:
    running = use_cases.claimed(USER)
    assert use_cases.finish.fail_for(running, exc, provider="together") is not None
    stored = use_cases.record(running.id)
    assert stored.error is not None and stored.error.code == code
    assert stored.error == failure_for(exc)
    assert use_cases.day_stat("provider:together:error") == failed_stat
    assert use_cases.quota_used(USER) == [0, 0]


def test_failure_messages_never_leak_internals() -> None:
    assert failure_for(ProviderDown("api key sk-123 rejected")).message == NO_PROVIDER
    assert failure_for(RuntimeError("traceback")).message == "The generation failed unexpectedly."
    assert failure_for(ContentRejected("flagged: nudity")).message == "flagged: nudity"


def test_a_router_error_counts_every_provider_it_tried(build: Build) -> None:
    class RouterDown(ProviderDown):
        @property
        def failed_providers(self) -> tuple[str, ...]:
            return ("fal", "together", "fal")

    use_cases = build()
    running = use_cases.claimed(USER)
    use_cases.finish.fail_for(running, RouterDown("all down"), provider="router")
    assert use_cases.day_stat("provider:fal:error") == 2
    assert use_cases.day_stat("provider:together:error") == 1
    assert use_cases.day_stat("provider:router:error") == 0
