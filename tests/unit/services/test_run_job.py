"""RunJob: claim once, make the image, end the job; a failure fails it (refunded) or, when a retry
may pass, releases it for its lane to redeliver."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.domain.events import GenerationFinished
from chalicelib.domain.generation import Generation
from chalicelib.ports import (
    ContentRejected,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    RetryableProviderError,
)
from chalicelib.services.generation.run_job import provider_request
from tests.unit.services.fakes import QuickProvider
from tests.unit.services.wiring import USER, Build, UseCases


def test_run_claims_makes_the_image_and_ends_the_job(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER, style="oil", prompt="a lighthouse", variation=4)
    use_cases.run_job.run(generation.id)
    stored = use_cases.record(generation.id)
    assert stored.status == "succeeded"
    assert stored.attempts == 1
    assert set(stored.images or {}) == {"128", "256", "512"}
    assert use_cases.provider.calls == {("oil", "a lighthouse", 4): 1}
    assert [e.generation.id for e in use_cases.events.of(GenerationFinished)] == [generation.id]


def test_a_second_run_does_nothing(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    use_cases.run_job.run(generation.id)
    use_cases.run_job.run(generation.id)
    assert use_cases.provider.total_calls == 1
    assert len(use_cases.events.of(GenerationFinished)) == 1
    assert use_cases.record(generation.id).attempts == 1


def test_a_job_held_by_another_worker_is_left_alone_unless_forced(use_cases: UseCases) -> None:
    held = use_cases.claimed(USER)
    use_cases.run_job.run(held.id)
    assert use_cases.provider.total_calls == 0
    assert use_cases.record(held.id).status == "running"
    use_cases.run_job.run(held.id, force=True)  # restart recovery takes it over
    assert use_cases.record(held.id).status == "succeeded"
    assert use_cases.record(held.id).attempts == 2


def test_an_expired_lease_is_taken_over(use_cases: UseCases) -> None:
    held = use_cases.claimed(USER)
    use_cases.clock.advance(use_cases.policy.lease_ms / 1000 + 1)
    use_cases.run_job.run(held.id)
    assert use_cases.record(held.id).status == "succeeded"


def test_an_unknown_job_is_nothing_to_run(use_cases: UseCases) -> None:
    use_cases.run_job.run("gen_missing")
    assert use_cases.provider.total_calls == 0


def test_the_provider_is_asked_for_the_styled_prompt_and_a_stable_seed(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER, style="professional", prompt="", variation=1)
    asked = provider_request(generation)
    assert asked.prompt.startswith("professional corporate headshot of a friendly person")
    assert asked.seed == generation.seed
    assert (asked.size, asked.quality, asked.variation) == (512, "fast", 1)


def failing(build: Build, error: Exception) -> tuple[UseCases, Generation]:
    provider = QuickProvider(error=error) if isinstance(error, ProviderError) else QuickProvider(crash=error)
    use_cases = build(provider=provider)
    return use_cases, use_cases.claimed(USER)


@pytest.mark.parametrize("error", [RetryableProviderError("timeout"), ProviderDown("503")])
def test_a_final_provider_failure_fails_the_job_and_refunds_it(build: Build, error: ProviderError) -> None:
    use_cases, running = failing(build, error)
    assert use_cases.run_job.execute(running, final=True) is True
    stored = use_cases.record(running.id)
    assert stored.status == "failed"
    assert stored.error is not None and stored.error.code == "provider_unavailable"
    assert stored.refunded
    assert use_cases.quota_used(USER) == [0, 0]
    assert use_cases.day_stat("provider:procedural:error") == 1


@pytest.mark.parametrize("error", [RetryableProviderError("timeout"), ProviderDown("503")])
def test_a_non_final_failure_releases_the_job_for_a_retry(build: Build, error: ProviderError) -> None:
    use_cases, running = failing(build, error)
    assert use_cases.run_job.execute(running, final=False) is False
    stored = use_cases.record(running.id)
    assert stored.status == "queued"
    assert stored.lease_until_ms == 0
    assert use_cases.quota_used(USER) == [1, 1]  # still charged until it ends
    assert use_cases.events.of(GenerationFinished) == []
    # ... and its lane's redelivery claims it again at once
    use_cases.provider.error = None
    use_cases.run_job.run(running.id)
    assert use_cases.record(running.id).status == "succeeded"
    assert use_cases.record(running.id).attempts == 2


@pytest.mark.parametrize(
    ("error", "code"),
    [(ContentRejected("flagged"), "content_rejected"), (ProviderBadRequest("400"), "provider_unavailable")],
)
def test_errors_a_retry_would_repeat_fail_at_once(build: Build, error: ProviderError, code: str) -> None:
    use_cases, running = failing(build, error)
    assert use_cases.run_job.execute(running, final=False) is True
    stored = use_cases.record(running.id)
    assert stored.status == "failed"
    assert stored.error is not None and stored.error.code == code
    assert use_cases.quota_used(USER) == [0, 0]


def test_a_crash_on_the_last_attempt_fails_the_job_as_internal(build: Build) -> None:
    use_cases, running = failing(build, RuntimeError("segfault-ish"))
    assert use_cases.run_job.execute(running, final=True) is True
    stored = use_cases.record(running.id)
    assert stored.status == "failed"
    assert stored.error is not None
    assert (stored.error.code, stored.error.message) == ("internal", "The generation failed unexpectedly.")
    assert use_cases.quota_used(USER) == [0, 0]


def test_a_crash_before_the_last_attempt_releases_the_job(build: Build) -> None:
    use_cases, running = failing(build, RuntimeError("segfault-ish"))
    assert use_cases.run_job.execute(running, final=False) is False
    assert use_cases.record(running.id).status == "queued"


def test_a_non_final_failure_of_a_job_no_longer_running_reports_it_handled(build: Build) -> None:
    use_cases, running = failing(build, RetryableProviderError("timeout"))
    use_cases.store.generations.release(running.id)  # someone else released it meanwhile
    assert use_cases.run_job.execute(running, final=False) is True
    assert use_cases.record(running.id).status == "queued"


def test_an_unknown_style_fails_the_job_as_an_invalid_request(use_cases: UseCases) -> None:
    running = dataclasses.replace(use_cases.claimed(USER), style="retired-style")
    use_cases.run_job.execute(running)
    stored = use_cases.record(running.id)
    assert stored.error is not None and stored.error.code == "invalid_request"
    assert use_cases.provider.total_calls == 0


def test_an_unusable_image_fails_the_job(build: Build) -> None:
    class Garbage(QuickProvider):
        def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
            return dataclasses.replace(super().generate(request), image=b"GIF89a-nope", picture=None)

    use_cases = build(provider=Garbage())
    running = use_cases.claimed(USER)
    use_cases.run_job.execute(running)
    stored = use_cases.record(running.id)
    assert stored.error is not None and stored.error.code == "provider_unavailable"
    assert "unusable image" in stored.error.message
