"""RunInRequest: the request's own job, claimed for it at admission, run within its wait on a
reserved thread (or at a provider's queue API in webhook mode); whatever cannot run here goes to its
lane, never lost."""

from __future__ import annotations

import threading

from chalicelib.domain.events import GenerationFinished, GenerationProgressed
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import ProviderRequest, StoreError
from chalicelib.services.generation.progress import Unannounced, publish_phase, unannounced
from chalicelib.services.generation.run_in_request import Reservation
from chalicelib.services.messagebus import MessageBus
from tests.fakes import FakeClock
from tests.unit.services.fakes import FakeQueuedProvider, QuickProvider, result_png
from tests.unit.services.wiring import USER, Build, UseCases


def when_finished(use_cases: UseCases) -> threading.Event:
    finished = threading.Event()
    use_cases.bus.subscribe(GenerationFinished, lambda event: finished.set())
    return finished


def reserve(use_cases: UseCases, quality: str = "fast") -> Reservation:
    reservation = use_cases.run_in_request.reserve(quality)
    assert reservation is not None
    return reservation


def test_the_job_runs_on_a_thread_and_the_ended_record_is_answered(use_cases: UseCases) -> None:
    reservation = reserve(use_cases)
    generation = use_cases.admitted_for_the_request(USER)
    latest = use_cases.run_in_request.run(generation, 10.0, reservation)
    assert latest.status == "succeeded"
    assert latest == use_cases.record(generation.id)  # the finish call's own result, as stored
    assert use_cases.provider.total_calls == 1
    assert use_cases.queue.messages == []


def test_a_job_outliving_the_wait_goes_on_and_answers_running(build: Build) -> None:
    gate = threading.Event()
    use_cases = build(provider=QuickProvider(gate=gate), durable=True)
    finished = when_finished(use_cases)
    reservation = reserve(use_cases)
    generation = use_cases.admitted_for_the_request(USER)
    try:
        latest = use_cases.run_in_request.run(generation, 0.05, reservation)
        assert latest.status == "running"
        # a durable lane takes it over only if this call's lease runs out: the claim keeps it single
        assert use_cases.queue.messages == [(generation.id, "free", "job")]
    finally:
        gate.set()
    assert finished.wait(10)
    assert use_cases.record(generation.id).status == "succeeded"
    assert use_cases.provider.total_calls == 1


def test_no_free_thread_means_no_reservation_and_the_slot_comes_back(build: Build) -> None:
    gate = threading.Event()
    use_cases = build(provider=QuickProvider(gate=gate), sync_threads=1)
    finished = when_finished(use_cases)
    busy = use_cases.admitted_for_the_request(USER, variation=1)
    try:
        assert use_cases.run_in_request.run(busy, 0.05, reserve(use_cases)).status == "running"
        assert use_cases.run_in_request.reserve("fast") is None  # the one thread is busy
        assert use_cases.queue.messages == []  # an in-process queue is not durable: no hand-over
    finally:
        gate.set()
    assert finished.wait(10)
    use_cases.run_in_request.reserve("fast")  # free again once the job ended
    spare = use_cases.run_in_request.reserve("fast")
    assert spare is None  # one slot only, and it is reserved again above


def test_a_released_reservation_frees_its_slot_once(build: Build) -> None:
    use_cases = build(sync_threads=1)
    reservation = reserve(use_cases)
    assert use_cases.run_in_request.reserve("fast") is None
    reservation.release()
    reservation.release()  # twice is harmless
    again = reserve(use_cases)
    assert use_cases.run_in_request.reserve("fast") is None
    again.release()


def test_a_store_failure_while_ending_leaves_the_job_to_its_lease(use_cases: UseCases) -> None:
    class FinishDown:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def succeed(self, *args: object, **kwargs: object) -> None:
            raise StoreError("timeout")

        def fail_for(self, *args: object, **kwargs: object) -> None:
            raise StoreError("timeout")

    reservation = reserve(use_cases)
    generation = use_cases.admitted_for_the_request(USER)
    use_cases.run_in_request._run_job._finish = FinishDown(use_cases.finish)  # type: ignore[assignment]
    latest = use_cases.run_in_request.run(generation, 10.0, reservation)
    assert latest.status == "running"  # still claimed: the lease runs out, then a lane takes it over
    assert use_cases.quota_used(USER) == [1, 1]  # charged until it ends


def test_webhook_mode_answers_what_the_provider_queue_made(build: Build) -> None:
    queued = FakeQueuedProvider("replicate", answers=[None, result_png("replicate")])
    use_cases = build(queued=[queued])
    reservation = reserve(use_cases)
    assert reservation.at_provider
    generation = use_cases.admitted_for_the_request(USER)
    latest = use_cases.run_in_request.run(generation, 10.0, reservation)
    assert latest.status == "succeeded"
    assert latest.provider == "replicate"
    assert use_cases.provider.total_calls == 0  # nothing ran in this process


def test_a_crash_of_the_webhook_path_hands_the_job_to_its_lane(build: Build) -> None:
    class Broken(FakeQueuedProvider):
        def submit(self, request: ProviderRequest, webhook_url: str | None) -> ProviderJob:
            raise RuntimeError("bug in the adapter")

    use_cases = build(queued=[Broken("fal")])
    reservation = reserve(use_cases)
    generation = use_cases.admitted_for_the_request(USER)
    assert use_cases.run_in_request.run(generation, 10.0, reservation).id == generation.id
    assert use_cases.record(generation.id).status == "queued"  # released for its lane
    assert use_cases.queue.jobs() == [generation.id]
    assert use_cases.quota_used(USER) == [1, 1]


def test_a_job_only_its_waiting_request_knows_publishes_no_phase(use_cases: UseCases) -> None:
    # Nobody else has its id: recording its phases would cost the hot path store calls for no one.
    reservation = reserve(use_cases)
    generation = use_cases.admitted_for_the_request(USER)
    latest = use_cases.run_in_request.run(generation, 10.0, reservation)
    assert latest.status == "succeeded"
    assert use_cases.events.of(GenerationProgressed) == []
    assert [e.generation.id for e in use_cases.events.of(GenerationFinished)] == [generation.id]


def test_once_the_request_answers_202_the_jobs_latest_phase_goes_out_and_later_ones_follow(
    build: Build,
) -> None:
    gate = threading.Event()
    use_cases = build(provider=QuickProvider(gate=gate))
    finished = when_finished(use_cases)
    reservation = reserve(use_cases)
    generation = use_cases.admitted_for_the_request(USER)
    try:
        latest = use_cases.run_in_request.run(generation, 0.2, reservation)
        assert latest.status == "running"
        # Held while the request waited, published once it answered (or, had the thread not got
        # that far yet, published as it gets there): either way once, never lost.
        assert [e.progress.phase for e in use_cases.events.of(GenerationProgressed)] in ([], ["generating"])
    finally:
        gate.set()
    assert finished.wait(10)
    phases = [e.progress.phase for e in use_cases.events.of(GenerationProgressed)]
    assert phases == ["generating", "storing"]
    assert all(e.generation.id == generation.id for e in use_cases.events.of(GenerationProgressed))


def test_held_phases_go_out_latest_only_when_announced_and_later_ones_at_once(use_cases: UseCases) -> None:
    bus = MessageBus()
    seen: list[str] = []
    bus.subscribe(GenerationProgressed, lambda event: seen.append(event.progress.phase))
    generation = use_cases.admitted_for_the_request(USER)
    holder = Unannounced(bus)
    with unannounced(holder):
        publish_phase(bus, generation, "generating", FakeClock(0.0))
        publish_phase(bus, generation, "storing", FakeClock(1.0))
    assert seen == []
    holder.announce()
    assert seen == ["storing"]  # only where the job is now
    with unannounced(holder):
        publish_phase(bus, generation, "storing", FakeClock(2.0))
    publish_phase(bus, generation, "generating", FakeClock(3.0))  # no holder: published as ever
    assert seen == ["storing", "storing", "generating"]
