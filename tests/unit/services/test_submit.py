"""SubmitToProvider (webhook mode): a claimed job goes to the first healthy queue API that takes it;
its handle, its lease and its polling fallback are kept on the job."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.domain.events import ProviderAttempted
from chalicelib.domain.webhook_signatures import secret_hash
from chalicelib.ports import BreakerPolicy, ContentRejected, ProviderDown, RetryableProviderError
from chalicelib.services.generation.submit import EXPECTED_S
from tests.unit.services.fakes import FakeQueuedProvider
from tests.unit.services.wiring import PREMIUM, PUBLIC_URL, USER, Build


def test_webhook_mode_needs_a_public_url_and_a_queue_api(build: Build) -> None:
    fal = FakeQueuedProvider("fal", qualities=("fast",))
    assert build(queued=[fal], public_url=None).submit.candidates("fast") == []
    assert not build(queued=[]).submit.webhook_mode
    use_cases = build(queued=[fal, FakeQueuedProvider("replicate")])
    assert use_cases.submit.webhook_mode
    assert [c.name for c in use_cases.submit.candidates("fast")] == ["fal", "replicate"]
    assert [c.name for c in use_cases.submit.candidates("pro")] == ["replicate"]
    assert use_cases.submit.provider("replicate") is not None
    assert use_cases.submit.provider("runpod") is None


def test_submit_keeps_the_handle_holds_the_claim_and_schedules_a_poll(build: Build) -> None:
    replicate = FakeQueuedProvider("replicate")
    use_cases = build(queued=[replicate])
    running = use_cases.claimed(USER, style="pixel", prompt="a knight")
    job = use_cases.submit.submit(running, use_cases.submit.candidates("fast"))

    assert job is not None and (job.provider, job.id) == ("replicate", "replicate-job-1")
    assert job.submitted_ms == use_cases.now_ms
    ((asked, url),) = replicate.submitted
    assert asked.style_id == "pixel" and asked.user_prompt == "a knight"
    # Replicate signs its webhooks; the per-job secret lets a webhook adopt the job should its
    # handle never be written (services/generation/webhooks.py).
    token = parse_qs(urlsplit(url or "").query)["token"][0]
    assert url == f"{PUBLIC_URL}/v1/webhooks/replicate?job={running.id}&token={token}"
    assert job.secret_hash == secret_hash(token)

    stored = use_cases.record(running.id)
    assert stored.provider_job == job
    assert stored.submit_intent is not None and stored.submit_intent.at_ms == use_cases.now_ms
    assert stored.submit_intent.secret_hash == job.secret_hash  # recorded before the call
    assert stored.status == "running"
    deadline_ms = int((running.created_epoch + use_cases.policy.job_deadline_s) * 1000)
    assert stored.lease_until_ms == deadline_ms
    poll_at = use_cases.now_ms + int(EXPECTED_S["fast"] * 1000)
    assert use_cases.store.timers.due("poll", poll_at - 1) == []
    assert use_cases.store.timers.due("poll", poll_at) == [running.id]


def test_a_provider_that_signs_nothing_gets_a_per_job_secret_in_its_url(build: Build) -> None:
    runpod = FakeQueuedProvider("runpod", signs_webhooks=False)
    use_cases = build(queued=[runpod])
    running = use_cases.claimed(PREMIUM, quality="standard")
    job = use_cases.submit.submit(running, use_cases.submit.candidates("standard"))
    query = parse_qs(urlsplit(runpod.submitted[0][1] or "").query)
    assert query["job"] == [running.id]
    token = query["token"][0]
    assert len(token) >= 24
    assert job is not None and job.secret_hash == secret_hash(token)
    assert use_cases.record(running.id).provider_job == job


def test_a_failing_candidate_is_recorded_and_the_next_one_takes_the_job(build: Build) -> None:
    fal = FakeQueuedProvider("fal", submit_error=ProviderDown("fal 503"))
    replicate = FakeQueuedProvider("replicate")
    use_cases = build(queued=[fal, replicate])
    running = use_cases.claimed(USER)
    job = use_cases.submit.submit(running, use_cases.submit.candidates("fast"))
    assert job is not None and job.provider == "replicate"
    assert use_cases.events.of(ProviderAttempted) == [ProviderAttempted("fal", error_kind="down")]
    health = use_cases.store.breakers.health(["fal", "replicate"])
    assert health["fal"].state(use_cases.now_ms) == "open"  # the test policy opens at one failure
    assert health["replicate"].state(use_cases.now_ms) == "closed"


def test_an_open_breaker_is_skipped_without_a_call(build: Build) -> None:
    fal, replicate = FakeQueuedProvider("fal"), FakeQueuedProvider("replicate")
    use_cases = build(queued=[fal, replicate])
    use_cases.store.breakers.record("fal", "failure", use_cases.now_ms, BreakerPolicy(failure_threshold=1))
    job = use_cases.submit.submit(use_cases.claimed(USER), use_cases.submit.candidates("fast"))
    assert job is not None and job.provider == "replicate"
    assert fal.submitted == []


def test_content_rejected_is_raised_at_once(build: Build) -> None:
    fal = FakeQueuedProvider("fal", submit_error=ContentRejected("flagged"))
    replicate = FakeQueuedProvider("replicate")
    use_cases = build(queued=[fal, replicate])
    with pytest.raises(ContentRejected):
        use_cases.submit.submit(use_cases.claimed(USER), use_cases.submit.candidates("fast"))
    assert replicate.submitted == []
    assert use_cases.store.breakers.health(["fal"])["fal"].state(use_cases.now_ms) == "closed"


def test_when_no_candidate_takes_it_the_last_error_is_raised(build: Build) -> None:
    fal = FakeQueuedProvider("fal", submit_error=ProviderDown("fal 503"))
    replicate = FakeQueuedProvider("replicate", submit_error=RetryableProviderError("429", retry_after=30))
    use_cases = build(queued=[fal, replicate])
    running = use_cases.claimed(USER)
    with pytest.raises(RetryableProviderError, match="429"):
        use_cases.submit.submit(running, use_cases.submit.candidates("fast"))
    assert use_cases.record(running.id).provider_job is None
    cooling = use_cases.store.breakers.health(["replicate"])["replicate"]
    assert cooling.cooling(use_cases.now_ms) and not cooling.cooling(use_cases.now_ms + 31_000)
    # every candidate is cooling down or open now: nothing is even called
    with pytest.raises(RetryableProviderError, match="cooling down or open"):
        use_cases.submit.submit(running, use_cases.submit.candidates("fast"))
    assert len(fal.submitted) == len(replicate.submitted) == 1


def test_a_job_not_running_is_not_submitted(build: Build) -> None:
    replicate = FakeQueuedProvider("replicate")
    use_cases = build(queued=[replicate])
    never_claimed = use_cases.admit(USER)  # not running: the store refuses the intent
    assert use_cases.submit.submit(never_claimed, use_cases.submit.candidates("fast")) is None
    assert replicate.submitted == [] and replicate.canceled == []
    assert use_cases.record(never_claimed.id).submit_intent is None


def test_a_job_that_ended_meanwhile_cancels_the_provider_job(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicate = FakeQueuedProvider("replicate")
    use_cases = build(queued=[replicate])
    running = use_cases.claimed(USER)
    submit = replicate.submit

    def submit_while_it_is_released(*args: Any) -> Any:
        job = submit(*args)
        use_cases.store.generations.release(running.id)  # not running: the store refuses the handle
        return job

    monkeypatch.setattr(replicate, "submit", submit_while_it_is_released)
    assert use_cases.submit.submit(running, use_cases.submit.candidates("fast")) is None
    assert [j.id for j in replicate.canceled] == ["replicate-job-1"]
    assert use_cases.record(running.id).provider_job is None
    assert use_cases.store.timers.due("poll", use_cases.now_ms + 10**9) == []
