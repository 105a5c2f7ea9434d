"""RunAtProvider: in webhook mode the request submits its job to a queue API and, until its wait runs
out, blocks on the job's wake-up list between polls of the provider; the same provider job is left
to the webhook otherwise. The blocking waits are recorded here and advance the stepping clock (what
a ``BLPOP`` that times out takes), so that these tests take no real time."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.generation import Failure, Generation
from chalicelib.ports import ContentRejected, ProviderDown, StoreError
from chalicelib.services.generation.run_at_provider import FIRST_POLL_S
from tests.unit.services.fakes import FakeQueuedProvider, result_png
from tests.unit.services.wiring import USER, Build, UseCases


def recorded_waits(use_cases: UseCases, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The job's blocking waits, as asked for; each one that times out advances the clock by its
    length (and runs its ``on_sleep`` hooks: what others do meanwhile)."""
    waits: list[float] = []
    real = use_cases.store.generations.wait_ended

    def wait_ended(generation: Generation, timeout_s: float) -> Generation | None:
        waits.append(timeout_s)
        ended = real(generation, 0.01)
        if ended is None:
            use_cases.clock.sleep(timeout_s)
            ended = real(generation, 0.01)
        return ended

    monkeypatch.setattr(use_cases.store.generations, "wait_ended", wait_ended)
    return waits


def test_outside_webhook_mode_it_serves_nothing(build: Build) -> None:
    use_cases = build()
    assert not use_cases.at_provider.serves("fast")
    assert build(queued=[FakeQueuedProvider("fal")]).at_provider.serves("fast")


def test_it_polls_until_the_provider_job_is_done(build: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    fal = FakeQueuedProvider("fal", answers=[None, None, result_png("fal")])
    use_cases = build(queued=[fal])
    waits = recorded_waits(use_cases, monkeypatch)
    generation = use_cases.admitted_for_the_request(USER)
    latest = use_cases.at_provider.run_claimed(generation, 10.0)
    assert latest is not None and latest.status == "succeeded"
    assert latest.provider == "fal"
    assert fal.polls == 3
    assert waits == pytest.approx([0.5, 0.75, 1.125])  # a growing gap
    assert len(fal.submitted) == 1


def test_a_job_ended_elsewhere_wakes_the_request_without_another_poll(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its webhook (on another API process) ends the job during the first wait: the request answers
    # as the job ended; it does not read the provider until its wait runs out.
    fal = FakeQueuedProvider("fal", answers=[None])
    use_cases = build(queued=[fal])
    waits = recorded_waits(use_cases, monkeypatch)
    generation = use_cases.admitted_for_the_request(USER)
    use_cases.clock.on_sleep.append(
        lambda: use_cases.finish.succeed(use_cases.record(generation.id), result_png("fal"))
    )
    latest = use_cases.at_provider.run_claimed(generation, 20.0)
    assert latest.status == "succeeded" and latest.provider == "fal"
    assert latest.model == "fal-model"  # the record as stored, in full
    assert fal.polls == 0
    assert waits == [0.5]
    assert len(fal.submitted) == 1


def test_a_store_failing_the_wait_makes_it_a_sleep_between_polls(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    fal = FakeQueuedProvider("fal", answers=[None, result_png("fal")])
    use_cases = build(queued=[fal])

    def failing(generation: Generation, timeout_s: float) -> None:
        raise StoreError("state store command BLPOP failed: timed out")

    monkeypatch.setattr(use_cases.store.generations, "wait_ended", failing)
    latest = use_cases.at_provider.run_claimed(use_cases.admitted_for_the_request(USER), 10.0)
    assert latest.status == "succeeded"
    assert use_cases.clock.slept == pytest.approx([0.5, 0.75])


def test_a_job_outliving_the_wait_is_left_running_at_the_provider(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    fal = FakeQueuedProvider("fal", answers=[None])
    use_cases = build(queued=[fal])
    waits = recorded_waits(use_cases, monkeypatch)
    generation = use_cases.admitted_for_the_request(USER)
    latest = use_cases.at_provider.run_claimed(generation, 4.0)
    assert latest is not None and latest.status == "running"
    assert latest.provider_job is not None and latest.provider_job.provider == "fal"
    assert sum(waits) <= 4.0  # never waits past the wait
    assert fal.polls == len(waits) >= 2
    assert len(fal.submitted) == 1
    assert use_cases.queue.messages == []  # the webhook, the poller or the reaper end it


def test_too_short_a_wait_submits_without_polling(build: Build) -> None:
    fal = FakeQueuedProvider("fal")
    use_cases = build(queued=[fal])
    latest = use_cases.at_provider.run_claimed(use_cases.admitted_for_the_request(USER), FIRST_POLL_S / 2)
    assert latest is not None and latest.provider_job is not None
    assert fal.polls == 0


def test_no_provider_taking_it_now_requeues_it_for_its_lane(build: Build) -> None:
    fal = FakeQueuedProvider("fal", submit_error=ProviderDown("fal 503"))
    use_cases = build(queued=[fal])
    generation = use_cases.admitted_for_the_request(USER)
    latest = use_cases.at_provider.run_claimed(generation, 10.0)
    assert latest is not None and latest.status == "queued"
    assert use_cases.queue.jobs() == [generation.id]
    assert use_cases.quota_used(USER) == [1, 1]


def test_a_refused_request_fails_at_once(build: Build) -> None:
    fal = FakeQueuedProvider("fal", submit_error=ContentRejected("flagged"))
    use_cases = build(queued=[fal])
    generation = use_cases.admitted_for_the_request(USER)
    latest = use_cases.at_provider.run_claimed(generation, 10.0)
    assert latest is not None and latest.status == "failed"
    assert latest.error is not None and latest.error.code == "content_rejected"
    assert use_cases.quota_used(USER) == [0, 0]
    assert use_cases.queue.messages == []


def test_a_job_that_ended_before_its_submit_is_not_submitted(build: Build) -> None:
    fal = FakeQueuedProvider("fal")
    use_cases = build(queued=[fal])
    running = use_cases.admitted_for_the_request(USER)
    use_cases.finish.fail(use_cases.record(running.id), Failure("internal", "ended elsewhere"))
    latest = use_cases.at_provider.run_claimed(running, 10.0)
    assert latest.status == "failed"
    assert fal.submitted == [] and fal.canceled == []  # its intent could not be recorded: no call


def test_a_job_that_ended_during_its_submit_cancels_its_provider_job(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    fal = FakeQueuedProvider("fal")
    use_cases = build(queued=[fal])
    running = use_cases.admitted_for_the_request(USER)
    submit = fal.submit

    def submit_while_it_ends(*args: Any) -> Any:
        job = submit(*args)
        use_cases.finish.fail(use_cases.record(running.id), Failure("internal", "ended elsewhere"))
        return job

    monkeypatch.setattr(fal, "submit", submit_while_it_ends)
    latest = use_cases.at_provider.run_claimed(running, 10.0)
    assert latest.status == "failed"
    assert len(fal.submitted) == 1 and len(fal.canceled) == 1  # nobody waits for it any more
