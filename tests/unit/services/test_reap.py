"""The reaper: late webhooks polled (and rescheduled), jobs past their deadline ended (refunded),
due callbacks delivered, and open jobs queued again after a restart."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.generation import Generation
from chalicelib.ports import ProviderResult
from chalicelib.services.generation.reap import MAX_POLL_GAP_S, MIN_POLL_GAP_S
from tests.unit.services.fakes import FakeQueuedProvider, result_png
from tests.unit.services.wiring import API_KEY, USER, Build, UseCases, request


def at_provider(
    build: Build, *answers: ProviderResult | Exception | None, **knobs: int
) -> tuple[UseCases, FakeQueuedProvider, Generation]:
    fal = FakeQueuedProvider("fal", answers=list(answers) or [None])
    use_cases = build(queued=[fal], **knobs)
    running = use_cases.claimed(USER)
    assert use_cases.submit.submit(running, use_cases.submit.candidates("fast")) is not None
    return use_cases, fal, use_cases.record(running.id)


def poll_due_at(use_cases: UseCases, generation_id: str) -> int | None:
    """When the job's next poll is due (ms), found by bisecting the store's timer."""
    if generation_id not in use_cases.store.timers.due("poll", 2**53):
        return None
    low, high = 0, 2**53
    while low < high:
        mid = (low + high) // 2
        if generation_id in use_cases.store.timers.due("poll", mid):
            high = mid
        else:
            low = mid + 1
    return low


def test_an_unfinished_job_is_polled_again_later_with_a_growing_gap(build: Build) -> None:
    use_cases, fal, generation = at_provider(build)
    use_cases.clock.advance(20)
    assert use_cases.reaper.poll(generation.id) == "pending"
    assert poll_due_at(use_cases, generation.id) == use_cases.now_ms + int(MIN_POLL_GAP_S * 1000)
    use_cases.clock.advance(180)  # 200 s since it was submitted: half of that
    assert use_cases.reaper.poll(generation.id) == "pending"
    assert poll_due_at(use_cases, generation.id) == use_cases.now_ms + 100_000
    use_cases.clock.advance(3600)
    use_cases.reaper.poll(generation.id)
    assert poll_due_at(use_cases, generation.id) == use_cases.now_ms + int(MAX_POLL_GAP_S * 1000)
    assert fal.polls == 3


def test_a_poll_that_finds_the_result_ends_the_job(build: Build) -> None:
    use_cases, _, generation = at_provider(build, result_png("fal"))
    use_cases.clock.advance(25)  # the first poll is due 20 s after submission
    assert use_cases.reaper.reap() == {"poll:done": 1}
    assert use_cases.record(generation.id).status == "succeeded"
    assert poll_due_at(use_cases, generation.id) is None


def test_a_poll_of_a_job_no_longer_at_a_provider_is_dropped(build: Build) -> None:
    use_cases, fal, generation = at_provider(build)
    use_cases.store.timers.schedule("poll", "gen_gone", use_cases.now_ms)
    assert use_cases.reaper.poll("gen_gone") == "gone"
    use_cases.store.generations.release(generation.id)  # back to queued, its handle dropped
    use_cases.store.timers.schedule("poll", generation.id, use_cases.now_ms)
    assert use_cases.reaper.poll(generation.id) == "gone"
    assert poll_due_at(use_cases, generation.id) is None
    assert fal.polls == 0


def test_a_job_past_its_deadline_is_failed_and_refunded(build: Build) -> None:
    use_cases = build(job_deadline_s=60)
    generation = use_cases.admit(USER)
    use_cases.clock.advance(59)
    # Nothing picked it up: the sweep dispatches it once (services/generation/sweep.py); no worker runs it.
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    use_cases.clock.advance(2)
    assert use_cases.reaper.reap() == {"deadline:expired": 1}
    stored = use_cases.record(generation.id)
    assert stored.status == "failed"
    assert stored.error is not None and stored.error.code == "provider_unavailable"
    assert use_cases.quota_used(USER) == [0, 0]
    assert use_cases.store.generations.open_ids() == []
    assert use_cases.reaper.reap() == {}  # ended: off the deadline timer


def test_an_expiring_provider_job_gets_one_last_poll(build: Build) -> None:
    use_cases, fal, generation = at_provider(build, result_png("fal"), job_deadline_s=60)
    use_cases.clock.advance(61)
    assert use_cases.reaper.expire(generation.id) == "done"
    assert use_cases.record(generation.id).status == "succeeded"
    assert fal.canceled == []


def test_an_expiring_provider_job_still_pending_is_canceled_and_failed(build: Build) -> None:
    use_cases, fal, generation = at_provider(build, None, job_deadline_s=60)
    use_cases.clock.advance(61)
    assert use_cases.reaper.expire(generation.id) == "expired"
    assert [j.id for j in fal.canceled] == ["fal-job-1"]
    assert use_cases.record(generation.id).status == "failed"
    assert use_cases.day_stat("provider:fal:error") == 1
    assert use_cases.quota_used(USER) == [0, 0]


def test_expire_of_an_ended_or_unknown_job_only_drops_its_timer(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    use_cases.run_job.run(generation.id)
    assert use_cases.reaper.expire(generation.id) == "ended"
    assert use_cases.reaper.expire("gen_unknown") == "gone"
    assert use_cases.record(generation.id).status == "succeeded"


def test_due_callbacks_are_delivered_by_the_pass(use_cases: UseCases) -> None:
    generation = use_cases.admission.admit(
        API_KEY, request(callback_url="https://client.example/h")
    ).generation
    use_cases.run_job.run(generation.id)
    assert use_cases.reaper.reap() == {"callback:gave_up": 1}  # the test key has no webhook secret
    state = json.loads(use_cases.store.kv.get(f"callback:{generation.id}") or "{}")
    assert state["status"] == "gave_up"
    assert use_cases.reaper.reap() == {}


def test_the_pass_is_bounded_in_items(build: Build) -> None:
    use_cases = build(job_deadline_s=1)
    for variation in range(3):
        use_cases.admit(USER, variation=variation)
    use_cases.clock.advance(5)
    assert use_cases.reaper.reap(limit=2) == {"deadline:expired": 2}
    assert use_cases.reaper.reap(limit=2) == {"deadline:expired": 1}


def test_a_failing_step_is_counted_and_the_pass_goes_on(build: Build) -> None:
    use_cases, _, generation = at_provider(build, RuntimeError("adapter bug"))
    use_cases.clock.advance(25)
    assert use_cases.reaper.reap() == {"poll:error": 1}
    assert use_cases.record(generation.id).status == "running"


def test_open_jobs_are_queued_again_after_a_restart(build: Build) -> None:
    use_cases, _, at_fal = at_provider(build)
    queued = use_cases.admit(USER, variation=1)
    running = use_cases.claimed(USER, variation=2)  # its worker died with the old process
    assert use_cases.reaper.recover_open_jobs() == 2
    assert sorted(use_cases.queue.jobs()) == sorted([queued.id, running.id])
    assert at_fal.id not in use_cases.queue.jobs()  # its webhook or the poller ends it
    # the dead worker's lease no longer holds: the next claim takes the job at once
    assert use_cases.lanes.handle(running.id, receive_count=1) == "done"
    assert use_cases.record(running.id).status == "running"  # submitted to fal in webhook mode
    assert use_cases.record(running.id).provider_job is not None


@pytest.mark.parametrize("ended", [True, False])
def test_recovery_skips_what_is_no_longer_open(use_cases: UseCases, ended: bool) -> None:
    generation = use_cases.admit(USER)
    if ended:
        use_cases.run_job.run(generation.id)
    assert use_cases.reaper.recover_open_jobs() == (0 if ended else 1)
