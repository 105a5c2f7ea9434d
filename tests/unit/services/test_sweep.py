"""The dispatch sweep: a job admitted but never handed to a worker is dispatched 30 s on (not failed
at its deadline), once, and a job dispatched twice still calls its provider once."""

from __future__ import annotations

from chalicelib.services.generation.sweep import BACKLOG_GRACE_S, SWEEP_AFTER_S, SWEPT_TTL_S
from tests.unit.services.fakes import FakeQueuedProvider
from tests.unit.services.wiring import USER, Build, UseCases


def test_a_job_admitted_without_dispatch_is_picked_up_by_the_sweep_after_30_s_not_failed(
    use_cases: UseCases,
) -> None:
    # The request admitted it, then its enqueue failed (or its process died): no message anywhere.
    generation = use_cases.admit(USER)
    assert use_cases.queue.jobs() == []
    use_cases.clock.advance(SWEEP_AFTER_S - 1)
    assert use_cases.reaper.reap() == {}
    assert use_cases.queue.jobs() == []
    use_cases.clock.advance(2)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    assert use_cases.queue.jobs() == [generation.id]
    # Its lane runs it: it succeeds, charged once, one provider call.
    assert use_cases.lanes.handle(generation.id, receive_count=1) == "done"
    assert use_cases.record(generation.id).status == "succeeded"
    assert use_cases.provider.total_calls == 1
    assert use_cases.quota_used(USER) == [1, 1]
    use_cases.clock.advance(SWEPT_TTL_S + 1)
    assert use_cases.reaper.reap() == {}  # ended: nothing more to dispatch


def test_a_job_the_sweep_dispatched_besides_its_own_message_calls_the_provider_once(
    use_cases: UseCases,
) -> None:
    # Its own message was only waiting in a busy lane: both messages are delivered.
    generation = use_cases.admit(USER)
    use_cases.dispatch.enqueue(generation)
    use_cases.clock.advance(SWEEP_AFTER_S + 1)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    assert use_cases.queue.jobs() == [generation.id, generation.id]
    for _ in use_cases.queue.jobs():
        assert use_cases.lanes.handle(generation.id, receive_count=1) == "done"
    assert use_cases.provider.total_calls == 1
    assert use_cases.quota_used(USER) == [1, 1]


def test_the_sweep_dispatches_a_job_once_and_again_only_after_a_while(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    use_cases.clock.advance(SWEEP_AFTER_S + 1)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    use_cases.clock.advance(10)
    assert use_cases.reaper.reap() == {}  # its worker has not claimed it yet: not dispatched again
    # Still queued long after (that message was lost too): dispatched once more.
    use_cases.store.kv.delete(f"swept:{generation.id}")  # the marker's TTL ran out (real time)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    assert use_cases.queue.jobs() == [generation.id, generation.id]


def test_a_failed_dispatch_is_tried_again_on_the_next_pass(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    use_cases.clock.advance(SWEEP_AFTER_S + 1)
    use_cases.queue.fail = True
    assert use_cases.reaper.reap() == {"sweep:error": 1}
    use_cases.queue.fail = False
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    assert use_cases.queue.jobs() == [generation.id]


def test_a_job_claimed_by_a_request_that_died_is_dispatched_once_its_lease_runs_out(
    use_cases: UseCases,
) -> None:
    # Admitted and claimed for its request (the sync path), whose process died before running it.
    generation = use_cases.admitted_for_the_request(USER)
    use_cases.clock.advance(SWEEP_AFTER_S + 1)
    assert use_cases.reaper.reap() == {}  # its lease still holds: maybe it is running
    use_cases.clock.advance(use_cases.policy.lease_ms / 1000)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    assert use_cases.lanes.handle(generation.id, receive_count=1) == "done"
    assert use_cases.record(generation.id).status == "succeeded"
    assert use_cases.provider.total_calls == 1


def test_jobs_running_or_at_a_provider_are_left_alone(build: Build) -> None:
    use_cases = build(queued=[FakeQueuedProvider("fal")])
    running = use_cases.claimed(USER)
    assert use_cases.submit.submit(running, use_cases.submit.candidates("fast")) is not None
    held = use_cases.claimed(USER, variation=1)
    use_cases.clock.advance(SWEEP_AFTER_S + 1)
    assert "sweep:dispatched" not in use_cases.reaper.reap()  # (the late webhook's job is polled)
    assert use_cases.queue.jobs() == []
    assert use_cases.record(held.id).status == "running"


def test_a_queued_job_in_a_backed_up_lane_waits_its_turn_before_the_sweep_dispatches_it(
    use_cases: UseCases,
) -> None:
    generation = use_cases.admit(USER)
    use_cases.queue.depths["free"] = 40  # its message is most likely among these
    use_cases.clock.advance(SWEEP_AFTER_S + 1)
    assert use_cases.reaper.reap() == {}
    use_cases.clock.advance(BACKLOG_GRACE_S)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    assert use_cases.queue.jobs() == [generation.id]
