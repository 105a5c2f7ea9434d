"""CollectResult: a provider job's outcome read once (completion claim) and the generation ended
with it; a job the provider failed is submitted again a few times, then failed."""

from __future__ import annotations

import pytest

from chalicelib.domain.events import GenerationFinished, ProviderAttempted
from chalicelib.domain.generation import Generation
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import ContentRejected, JobFailed, ProviderDown, ProviderResult, RetryableProviderError
from tests.unit.services.fakes import FakeQueuedProvider, result_png
from tests.unit.services.wiring import USER, Build, UseCases


def at_provider(
    build: Build, *answers: ProviderResult | Exception | None, **knobs: int
) -> tuple[UseCases, FakeQueuedProvider, Generation, ProviderJob]:
    queued = FakeQueuedProvider("replicate", answers=list(answers) or [None])
    use_cases = build(queued=[queued], **knobs)
    running = use_cases.claimed(USER)
    job = use_cases.submit.submit(running, use_cases.submit.candidates("fast"))
    assert job is not None
    return use_cases, queued, use_cases.record(running.id), job


def test_a_finished_provider_job_ends_the_generation(build: Build) -> None:
    use_cases, queued, generation, job = at_provider(build, result_png("ignored-name", cost_usd=0.02))
    use_cases.clock.advance(7.5)
    assert use_cases.collect.poll(generation, queued, job) == "done"
    stored = use_cases.record(generation.id)
    assert stored.status == "succeeded"
    assert stored.provider == "replicate"  # the queue API that made it, whatever the result says
    assert stored.provider_latency_ms == pytest.approx(7500.0)  # since it was submitted
    assert stored.cost_usd == pytest.approx(0.02)
    assert set(stored.images or {}) == {"128", "256", "512"}
    assert use_cases.store.timers.due("poll", use_cases.now_ms + 10**9) == []  # no more polls
    assert len(use_cases.events.of(GenerationFinished)) == 1


def test_a_pending_job_leaves_everything_as_it_was(build: Build) -> None:
    use_cases, queued, generation, job = at_provider(build, None, result_png("replicate"))
    assert use_cases.collect.poll(generation, queued, job) == "pending"
    assert use_cases.record(generation.id).status == "running"
    assert use_cases.collect.poll(generation, queued, job) == "done"  # the claim was let go


def test_a_second_reader_of_the_same_outcome_is_busy(build: Build) -> None:
    use_cases, queued, generation, job = at_provider(build, result_png("replicate"))
    inner: list[str] = []

    def produce() -> ProviderResult | None:
        inner.append(use_cases.collect.collect(generation, queued, job, lambda: result_png("replicate")))
        return result_png("replicate")

    assert use_cases.collect.collect(generation, queued, job, produce) == "done"
    assert inner == ["busy"]  # a webhook and a poll never process one output twice
    assert len(use_cases.events.of(GenerationFinished)) == 1


def test_a_transient_read_error_is_retried_later(build: Build) -> None:
    use_cases, queued, generation, job = at_provider(build, RetryableProviderError("read timeout"))
    assert use_cases.collect.poll(generation, queued, job) == "transient"
    assert use_cases.record(generation.id).status == "running"
    queued.answers = [result_png("replicate")]
    queued.polls = 0
    assert use_cases.collect.poll(generation, queued, job) == "done"


def test_a_failed_provider_job_is_submitted_again_while_attempts_remain(build: Build) -> None:
    use_cases, queued, generation, job = at_provider(build, JobFailed(ProviderDown("gpu crashed")))
    assert use_cases.collect.poll(generation, queued, job) == "failed"
    stored = use_cases.record(generation.id)
    assert stored.status == "queued"  # released, its lane submits it again
    assert stored.provider_job is None
    assert use_cases.queue.jobs() == [generation.id]
    assert use_cases.events.of(ProviderAttempted) == [ProviderAttempted("replicate", error_kind="down")]
    assert use_cases.quota_used(USER) == [1, 1]


def test_the_last_attempt_fails_the_job_and_refunds_it(build: Build) -> None:
    use_cases, queued, generation, job = at_provider(
        build, JobFailed(ProviderDown("gpu crashed")), max_attempts=1
    )
    assert use_cases.collect.poll(generation, queued, job) == "failed"
    stored = use_cases.record(generation.id)
    assert stored.status == "failed"
    assert stored.error is not None and stored.error.code == "provider_unavailable"
    assert use_cases.quota_used(USER) == [0, 0]
    assert use_cases.day_stat("provider:replicate:error") == 1
    assert use_cases.queue.jobs() == []


def test_a_refused_provider_job_fails_at_once(build: Build) -> None:
    use_cases, queued, generation, job = at_provider(build, JobFailed(ContentRejected("flagged")))
    assert use_cases.collect.poll(generation, queued, job) == "failed"
    stored = use_cases.record(generation.id)
    assert stored.error is not None and stored.error.code == "content_rejected"
    assert use_cases.queue.jobs() == []


def test_an_unusable_output_fails_the_job(build: Build) -> None:
    garbage = ProviderResult(b"%PDF-1.7", "replicate", "m", 0.0, 0.0)
    use_cases, queued, generation, job = at_provider(build, garbage)
    assert use_cases.collect.poll(generation, queued, job) == "failed"
    stored = use_cases.record(generation.id)
    assert stored.status == "failed"
    assert stored.error is not None and stored.error.code == "provider_unavailable"
    assert use_cases.quota_used(USER) == [0, 0]


def test_an_unexpected_error_lets_the_next_reader_try(build: Build) -> None:
    use_cases, queued, generation, job = at_provider(build, RuntimeError("object store down"))
    with pytest.raises(RuntimeError):
        use_cases.collect.poll(generation, queued, job)
    queued.answers = [result_png("replicate")]
    queued.polls = 0
    assert use_cases.collect.poll(generation, queued, job) == "done"
