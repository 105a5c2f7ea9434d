"""RequestGeneration (``POST /v1/generations`` without HTTP): admit, then answer from the cache, run
the job within the wait, queue it, or wait for the identical request it joined."""

from __future__ import annotations

import threading
import time

import pytest

from chalicelib.domain.errors import ContentRejected as Refused
from chalicelib.domain.errors import ProviderUnavailable
from chalicelib.ports import ContentRejected, ProviderDown
from chalicelib.services.generation.latency import DEFAULT_SECONDS
from chalicelib.services.generation.views import STORING_SECONDS
from tests.conftest import FILES_BASE
from tests.fakes import RecordingProvider
from tests.unit.services.fakes import QuickProvider
from tests.unit.services.wiring import OTHER_USER, PREMIUM, USER, Build, UseCases, request


def test_a_new_request_runs_within_the_wait_and_answers_the_result(build: Build) -> None:
    provider = RecordingProvider()  # the real renderer, on the request's own thread pool
    use_cases = build(provider=provider)
    answered = use_cases.request(USER, request(style="anime", prompt="a cat astronaut", variation=2))
    assert answered.finished
    body = answered.generation
    assert (body.status, body.cached, body.provider, body.lane) == ("succeeded", False, "procedural", "free")
    assert body.images is not None and set(body.images) == {"128", "256", "512"}
    assert all(url.startswith(f"{FILES_BASE}/img/") for url in body.images.values())
    assert provider.calls == {("anime", "a cat astronaut", 2): 1}
    assert answered.rate_limit is not None and answered.rate_limit.remaining == 4
    assert use_cases.queue.messages == []  # nothing went to a lane
    assert use_cases.record(body.id).status == "succeeded"


def test_a_cache_hit_answers_at_once_without_a_provider_call(use_cases: UseCases) -> None:
    first = use_cases.request(USER, request(prompt="A  Robot"))
    again = use_cases.request(OTHER_USER, request(prompt="a robot"))
    assert again.finished
    assert again.generation.cached
    assert again.generation.id != first.generation.id
    assert again.generation.images == first.generation.images
    assert use_cases.provider.total_calls == 1
    assert use_cases.quota_used(OTHER_USER) == [0, 0]


@pytest.mark.parametrize(("respond_async", "wait"), [(True, None), (False, 0.0)])
def test_respond_async_or_no_wait_queues_the_job(
    use_cases: UseCases, respond_async: bool, wait: float | None
) -> None:
    answered = use_cases.request(USER, request(), respond_async=respond_async, wait=wait)
    assert not answered.finished
    assert answered.generation.status == "queued"
    typical = DEFAULT_SECONDS[answered.generation.quality]
    assert answered.generation.eta_seconds == pytest.approx(typical + STORING_SECONDS)
    assert use_cases.queue.messages == [(answered.generation.id, "free", "job")]
    assert use_cases.provider.total_calls == 0


def test_a_quality_not_answered_within_the_wait_is_queued(use_cases: UseCases) -> None:
    answered = use_cases.request(PREMIUM, request(quality="standard", size=1024))
    assert answered.generation.status == "queued"
    assert use_cases.queue.messages == [(answered.generation.id, "premium", "job")]


def test_content_rejected_is_the_contracts_content_rejected_and_not_charged(build: Build) -> None:
    use_cases = build(provider=QuickProvider(error=ContentRejected("flagged: violence")))
    with pytest.raises(Refused, match="content policy") as refused:
        use_cases.request(USER, request(prompt="something flagged"))
    assert refused.value.details == [{"field": "prompt", "message": "flagged: violence"}]
    assert refused.value.rate_limit is not None
    assert use_cases.quota_used(USER) == [0, 0]


def test_a_provider_failure_is_provider_unavailable_with_suggestions(build: Build) -> None:
    use_cases = build(provider=QuickProvider(error=ProviderDown("every vendor is down")))
    with pytest.raises(ProviderUnavailable, match="not charged") as refused:
        use_cases.request(USER, request(style="sketch"))
    assert refused.value.retry_after == 30
    assert refused.value.suggestions and refused.value.suggestions[0]["style"] == "sketch"
    assert refused.value.rate_limit is not None
    assert use_cases.quota_used(USER) == [0, 0]


def test_a_joined_request_is_woken_by_its_leaders_end(use_cases: UseCases) -> None:
    leader = use_cases.admit(USER, prompt="shared")  # admitted, being worked on elsewhere
    worker = threading.Timer(0.2, lambda: use_cases.run_job.run(leader.id))
    worker.start()
    answered = use_cases.request(OTHER_USER, request(prompt="shared"))
    worker.join()
    assert answered.finished
    assert answered.generation.cached  # a follower costs nothing
    assert answered.generation.images is not None
    assert answered.generation.images == use_cases.reads.get(USER, leader.id).images
    assert use_cases.provider.total_calls == 1
    assert use_cases.clock.slept == []  # woken, never polled
    assert use_cases.quota_used(OTHER_USER) == [0, 0]


def test_a_joined_request_answers_queued_when_its_wait_runs_out(use_cases: UseCases) -> None:
    use_cases.admit(USER, prompt="slow")
    started = time.monotonic()
    answered = use_cases.request(OTHER_USER, request(prompt="slow"), wait=0.3)
    assert answered.generation.status == "queued"
    assert 0.25 <= time.monotonic() - started < 3.0  # blocked on the store for the wait, then answered
    assert use_cases.queue.messages == []  # the leader's own dispatch runs it


def test_a_joined_request_with_respond_async_does_not_wait(use_cases: UseCases) -> None:
    use_cases.admit(USER, prompt="slow")
    answered = use_cases.request(OTHER_USER, request(prompt="slow"), respond_async=True)
    assert answered.generation.status == "queued"
    assert use_cases.clock.slept == []


def test_a_replay_of_a_job_never_dispatched_queues_it_uncharged(use_cases: UseCases) -> None:
    # The first attempt was admitted but its reply was lost before anything dispatched the job.
    lost = use_cases.admission.admit(USER, request(variation=5), idempotency_key="retry-me").generation
    answered = use_cases.request(USER, request(variation=5), idempotency_key="retry-me", respond_async=True)
    assert answered.generation.id == lost.id
    assert use_cases.queue.jobs() == [lost.id]
    assert use_cases.quota_used(USER) == [1, 1]


def test_a_replay_of_a_finished_job_answers_its_result(use_cases: UseCases) -> None:
    first = use_cases.request(USER, request(variation=6), idempotency_key="k")
    again = use_cases.request(USER, request(variation=6), idempotency_key="k")
    assert again.finished
    assert again.generation.id == first.generation.id
    assert use_cases.provider.total_calls == 1
    assert use_cases.queue.messages == []
