"""RunInRequest: the request's own job run within its wait, on a few threads (or at a provider's
queue API in webhook mode); whatever cannot run here goes to its lane, never lost."""

from __future__ import annotations

import threading

from chalicelib.adapters.store.generations import RedisGenerations
from chalicelib.domain.events import GenerationFinished
from chalicelib.domain.generation import Generation
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import ProviderRequest, StoreError
from chalicelib.services.run_in_request import RunInRequest
from chalicelib.services.run_job import RunJob
from tests.unit.services.fakes import FakeQueuedProvider, QuickProvider, result_png
from tests.unit.services.wiring import USER, Build, UseCases


def when_finished(use_cases: UseCases) -> threading.Event:
    finished = threading.Event()
    use_cases.bus.subscribe(GenerationFinished, lambda event: finished.set())
    return finished


def test_the_job_runs_on_a_thread_and_the_ended_record_is_answered(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    latest = use_cases.run_in_request.run(generation, wait=10.0)
    assert latest.status == "succeeded"
    assert latest == use_cases.record(generation.id)
    assert use_cases.provider.total_calls == 1
    assert use_cases.queue.messages == []


def test_a_job_outliving_the_wait_goes_on_and_answers_running(build: Build) -> None:
    gate = threading.Event()
    use_cases = build(provider=QuickProvider(gate=gate), durable=True)
    finished = when_finished(use_cases)
    generation = use_cases.admit(USER)
    try:
        latest = use_cases.run_in_request.run(generation, wait=0.05)
        assert latest.status == "running"
        # a durable lane takes it over only if this call's lease runs out: the claim keeps it single
        assert use_cases.queue.messages == [(generation.id, "free", "job")]
    finally:
        gate.set()
    assert finished.wait(10)
    assert use_cases.record(generation.id).status == "succeeded"
    assert use_cases.provider.total_calls == 1


def test_no_free_thread_queues_the_job(build: Build) -> None:
    gate = threading.Event()
    use_cases = build(provider=QuickProvider(gate=gate), sync_threads=1)
    finished = when_finished(use_cases)
    busy, next_one = use_cases.admit(USER, variation=1), use_cases.admit(USER, variation=2)
    try:
        assert use_cases.run_in_request.run(busy, wait=0.05).status == "running"
        assert use_cases.queue.messages == []  # an in-process queue is not durable: no hand-over
        assert use_cases.run_in_request.run(next_one, wait=10.0) == next_one
        assert use_cases.queue.messages == [(next_one.id, "free", "job")]
    finally:
        gate.set()
    assert finished.wait(10)
    assert use_cases.record(next_one.id).status == "queued"  # its lane runs it


class ClaimDown(RedisGenerations):
    def claim(self, generation_id: str, now_ms: int, lease_ms: int, force: bool = False) -> Generation | None:
        raise StoreError("timeout")


def test_a_claim_that_fails_hands_the_job_to_its_lane(use_cases: UseCases) -> None:
    run_in_request = RunInRequest(
        generations=use_cases.store.generations,
        run_job=RunJob(
            generations=ClaimDown(use_cases.store.keyspace),
            provider=use_cases.provider,
            finish=use_cases.finish,
            clock=use_cases.clock,
            lease_ms=use_cases.policy.lease_ms,
        ),
        at_provider=use_cases.at_provider,
        dispatch=use_cases.dispatch,
        threads=1,
    )
    generation = use_cases.admit(USER)
    assert run_in_request.run(generation, wait=10.0) == generation
    assert use_cases.queue.jobs() == [generation.id]
    assert use_cases.provider.total_calls == 0
    assert use_cases.quota_used(USER) == [1, 1]  # still charged: the lane runs it


def test_webhook_mode_answers_what_the_provider_queue_made(build: Build) -> None:
    queued = FakeQueuedProvider("replicate", answers=[None, result_png("replicate")])
    use_cases = build(queued=[queued])
    generation = use_cases.admit(USER)
    latest = use_cases.run_in_request.run(generation, wait=10.0)
    assert latest.status == "succeeded"
    assert latest.provider == "replicate"
    assert use_cases.provider.total_calls == 0  # nothing ran in this process


def test_a_crash_of_the_webhook_path_hands_the_job_to_its_lane(build: Build) -> None:
    class Broken(FakeQueuedProvider):
        def submit(self, request: ProviderRequest, webhook_url: str | None) -> ProviderJob:
            raise RuntimeError("bug in the adapter")

    use_cases = build(queued=[Broken("fal")])
    generation = use_cases.admit(USER)
    assert use_cases.run_in_request.run(generation, wait=10.0) == generation
    assert use_cases.queue.jobs() == [generation.id]
    assert use_cases.quota_used(USER) == [1, 1]
