"""LaneWorker: one lane message handled: a job run here (or submitted to a queue API in webhook
mode), retried while receives remain, failed (refunded) at the last one; or a callback delivered."""

from __future__ import annotations

import json

import pytest

from chalicelib.ports import ContentRejected, ProviderDown, ProviderError, RetryableProviderError
from tests.unit.services.fakes import FakeQueuedProvider, QuickProvider
from tests.unit.services.wiring import API_KEY, USER, Build, UseCases, request


def test_a_job_message_runs_the_job(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    assert use_cases.lanes.handle(generation.id, "job", receive_count=1) == "done"
    assert use_cases.record(generation.id).status == "succeeded"
    assert use_cases.provider.total_calls == 1


def test_a_message_delivered_twice_calls_the_provider_once(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    assert use_cases.lanes.handle(generation.id) == "done"
    assert use_cases.lanes.handle(generation.id) == "done"
    assert use_cases.provider.total_calls == 1


def test_an_unknown_job_is_done(use_cases: UseCases) -> None:
    assert use_cases.lanes.handle("gen_gone", receive_count=1) == "done"


def test_a_job_held_by_another_worker_is_looked_at_again_until_the_last_receive(use_cases: UseCases) -> None:
    held = use_cases.claimed(USER)
    assert use_cases.lanes.handle(held.id, receive_count=1) == "retry"
    last = use_cases.lanes.max_receives
    assert use_cases.lanes.handle(held.id, receive_count=last) == "done"  # the reaper is the backstop
    assert use_cases.record(held.id).status == "running"
    assert use_cases.provider.total_calls == 0


@pytest.mark.parametrize("error", [RetryableProviderError("timeout"), RuntimeError("worker bug")])
def test_a_failed_attempt_is_retried_then_failed_at_the_last_receive(build: Build, error: Exception) -> None:
    provider = QuickProvider(error=error) if isinstance(error, ProviderError) else QuickProvider(crash=error)
    use_cases = build(provider=provider, max_receives=3)
    generation = use_cases.admit(USER)
    assert use_cases.lanes.handle(generation.id, receive_count=1) == "retry"
    assert use_cases.record(generation.id).status == "queued"
    assert use_cases.lanes.handle(generation.id, receive_count=2) == "retry"
    assert use_cases.quota_used(USER) == [1, 1]
    assert use_cases.lanes.handle(generation.id, receive_count=3) == "done"
    stored = use_cases.record(generation.id)
    assert stored.status == "failed"
    assert stored.attempts == 3
    assert use_cases.quota_used(USER) == [0, 0]


def test_a_queue_that_never_redelivers_fails_at_once(build: Build) -> None:
    use_cases = build(provider=QuickProvider(error=ProviderDown("down")))
    generation = use_cases.admit(USER)
    assert use_cases.lanes.handle(generation.id, receive_count=None) == "done"
    assert use_cases.record(generation.id).status == "failed"


def test_a_callback_message_delivers_the_callback(use_cases: UseCases) -> None:
    generation = use_cases.admission.admit(
        API_KEY, request(callback_url="https://client.example/hook")
    ).generation
    use_cases.run_job.run(generation.id)
    assert use_cases.queue.messages == [(generation.id, "enterprise", "callback")]  # scheduled when it ended
    assert use_cases.lanes.handle(generation.id, "callback") == "done"
    assert use_cases.provider.total_calls == 1  # not run again
    # this key has no webhook secret: the delivery is given up (and recorded), nothing is posted
    assert json.loads(use_cases.store.kv.get(f"callback:{generation.id}") or "{}")["status"] == "gave_up"
    assert use_cases.sender.posts == []


def test_webhook_mode_submits_the_job_to_a_queue_api(build: Build) -> None:
    fal = FakeQueuedProvider("fal")
    use_cases = build(queued=[fal])
    generation = use_cases.admit(USER)
    assert use_cases.lanes.handle(generation.id, receive_count=1) == "done"
    stored = use_cases.record(generation.id)
    assert stored.status == "running"
    assert stored.provider_job is not None and stored.provider_job.id == "fal-job-1"
    assert use_cases.provider.total_calls == 0
    # a redelivered message finds it at the provider: nothing submitted twice
    assert use_cases.lanes.handle(generation.id, receive_count=2) == "done"
    assert len(fal.submitted) == 1


def test_webhook_mode_retries_a_submission_no_provider_took(build: Build) -> None:
    fal = FakeQueuedProvider("fal", submit_error=RetryableProviderError("busy"))
    use_cases = build(queued=[fal], max_receives=2)
    generation = use_cases.admit(USER)
    assert use_cases.lanes.handle(generation.id, receive_count=1) == "retry"
    assert use_cases.record(generation.id).status == "queued"
    use_cases.clock.advance(60)  # the breaker's cool-down ends
    assert use_cases.lanes.handle(generation.id, receive_count=2) == "done"
    stored = use_cases.record(generation.id)
    assert stored.status == "failed"
    assert use_cases.quota_used(USER) == [0, 0]


def test_webhook_mode_fails_a_refused_request_at_once(build: Build) -> None:
    use_cases = build(queued=[FakeQueuedProvider("fal", submit_error=ContentRejected("flagged"))])
    generation = use_cases.admit(USER)
    assert use_cases.lanes.handle(generation.id, receive_count=1) == "done"
    stored = use_cases.record(generation.id)
    assert stored.error is not None and stored.error.code == "content_rejected"
