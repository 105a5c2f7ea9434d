"""Dispatch: whether a request may wait for its job, queueing jobs (a job that cannot be queued stays
queued for the dispatch sweep: it is admitted, never refused), handing a running job over, and
requeueing a failed attempt."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.events import GenerationFinished
from chalicelib.ports import BreakerPolicy, ImageProvider, ProviderDown, StoreError
from chalicelib.services.generation.dispatch import Dispatch
from chalicelib.services.generation.provider_health import ProviderHealthCheck
from tests.unit.services.fakes import QuickProvider
from tests.unit.services.wiring import PREMIUM, USER, Build, UseCases


def dispatch_with(use_cases: UseCases, healthy: bool) -> Dispatch:
    return Dispatch(
        generations=use_cases.store.generations,
        queue=use_cases.queue,
        policy=use_cases.policy,
        provider_healthy=lambda quality: healthy,
    )


def test_a_fast_job_on_a_quiet_lane_with_a_healthy_provider_may_wait(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    assert use_cases.dispatch.sync_allowed(generation.quality, generation.lane)


def test_a_slow_quality_is_queued_at_once(use_cases: UseCases) -> None:
    generation = use_cases.admit(PREMIUM, quality="standard")
    assert not use_cases.dispatch.sync_allowed(generation.quality, generation.lane)


def test_a_backed_up_lane_queues_every_request(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    use_cases.queue.depths["free"] = use_cases.policy.sync_max_depth
    assert use_cases.dispatch.sync_allowed(generation.quality, generation.lane)
    use_cases.queue.depths["free"] = use_cases.policy.sync_max_depth + 1
    assert not use_cases.dispatch.sync_allowed(generation.quality, generation.lane)
    use_cases.queue.depths["free"] = 0
    use_cases.queue.depths["premium"] = 1000  # another lane's backlog does not matter
    assert use_cases.dispatch.sync_allowed(generation.quality, generation.lane)


def test_an_unhealthy_provider_queues_every_request(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    assert not dispatch_with(use_cases, healthy=False).sync_allowed(generation.quality, generation.lane)
    assert dispatch_with(use_cases, healthy=True).sync_allowed(generation.quality, generation.lane)


def test_an_open_breaker_of_every_vendor_queues_requests(build: Build) -> None:
    class Vendor(QuickProvider):
        @property
        def vendors(self) -> tuple[str, ...]:
            return ("fal",)

        def candidates(self, quality: str) -> Sequence[ImageProvider]:
            return [QuickProvider(name="fal")]

    use_cases = build(provider=Vendor())
    generation = use_cases.admit(USER)
    use_cases.store.breakers.record("fal", "failure", use_cases.now_ms, BreakerPolicy(failure_threshold=1))
    dispatch = dispatch_with(use_cases, healthy=True)
    check = ProviderHealthCheck(use_cases.store.breakers, use_cases.provider, clock=use_cases.clock)
    assert not check("fast")
    assert dispatch.sync_allowed(generation.quality, generation.lane)  # the injected check decides
    assert not use_cases.dispatch.sync_allowed(generation.quality, generation.lane)


def test_enqueue_puts_the_job_on_its_lane(use_cases: UseCases) -> None:
    generation = use_cases.admit(PREMIUM, quality="standard")
    use_cases.dispatch.enqueue(generation)
    assert use_cases.queue.messages == [(generation.id, "premium", "job")]
    assert use_cases.record(generation.id).status == "queued"


def test_a_job_that_cannot_be_queued_stays_queued_for_the_sweep_and_is_not_refused(
    use_cases: UseCases,
) -> None:
    generation = use_cases.admit(USER, style="watercolor")
    use_cases.queue.fail = True
    use_cases.dispatch.enqueue(generation)  # admitted and charged: no refusal (the request answers 202)
    stored = use_cases.record(generation.id)
    assert stored.status == "queued"
    assert use_cases.quota_used(USER) == [1, 1]
    assert use_cases.events.of(GenerationFinished) == []
    use_cases.queue.fail = False
    use_cases.clock.advance(31)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    assert use_cases.queue.jobs() == [generation.id]


def test_hand_over_queues_a_running_job_only_on_a_durable_queue(build: Build) -> None:
    volatile = build()
    running = volatile.claimed(USER)
    volatile.dispatch.hand_over(running)
    assert volatile.queue.messages == []

    durable = build(durable=True)
    running = durable.claimed(USER, variation=1)
    durable.dispatch.hand_over(running)
    assert durable.queue.messages == [(running.id, "free", "job")]
    durable.queue.fail = True
    durable.dispatch.hand_over(running)  # best effort: nothing raised, nothing ended
    assert durable.record(running.id).status == "running"


def test_requeue_releases_the_job_and_queues_it_again(use_cases: UseCases) -> None:
    running = use_cases.claimed(USER)
    use_cases.dispatch.requeue(running, ProviderDown("503"))
    stored = use_cases.record(running.id)
    assert stored.status == "queued"
    assert use_cases.queue.jobs() == [running.id]
    assert use_cases.quota_used(USER) == [1, 1]


def test_requeue_of_a_job_that_is_not_running_does_nothing(use_cases: UseCases) -> None:
    queued = use_cases.admit(USER)
    use_cases.dispatch.requeue(queued, ProviderDown("503"))
    assert use_cases.queue.messages == []
    assert use_cases.record(queued.id).status == "queued"


def test_requeue_that_cannot_queue_leaves_the_job_queued_for_the_sweep(use_cases: UseCases) -> None:
    running = use_cases.claimed(USER)
    use_cases.queue.fail = True
    use_cases.dispatch.requeue(running, ProviderDown("503"))
    stored = use_cases.record(running.id)
    assert stored.status == "queued"
    assert use_cases.quota_used(USER) == [1, 1]
    use_cases.queue.fail = False
    use_cases.clock.advance(31)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}


def test_requeue_with_the_store_down_raises_nothing_and_leaves_the_job_to_its_lease(
    use_cases: UseCases,
) -> None:
    running = use_cases.claimed(USER)
    down = Dispatch(
        generations=DownStore(use_cases.store.generations),  # type: ignore[arg-type]
        queue=use_cases.queue,
        policy=use_cases.policy,
        provider_healthy=lambda quality: True,
    )
    down.requeue(running, ProviderDown("503"))
    assert use_cases.record(running.id).status == "running"
    assert use_cases.queue.messages == []
    use_cases.clock.advance(use_cases.policy.lease_ms / 1000 + 31)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}  # its lease ran out: nobody holds it


class DownStore:
    """The generations store with every call failing (the store stalled)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        def failing(*args: object, **kwargs: object) -> object:
            raise StoreError("state store script release failed: timed out")

        return failing
