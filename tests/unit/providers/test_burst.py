"""The burst lane's saturation signals on their own: latency, 429, a deep provider queue."""

from __future__ import annotations

from chalicelib.domain.events import GenerationProgressed
from chalicelib.domain.generation import Generation
from chalicelib.domain.progress import JobProgress
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import ProviderThrottled, RetryableProviderError
from chalicelib.services.routing.burst import BurstPolicy, Saturation


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def saturation() -> tuple[Saturation, Clock]:
    clock = Clock()
    return Saturation(BurstPolicy(latency_s=5.0, queue_position=10, hold_s=30.0), clock=clock), clock


def test_the_median_of_fresh_calls_marks_a_slow_vendor_and_the_hold_runs_out() -> None:
    tracker, clock = saturation()
    tracker.note_attempt("fal", 9000)
    tracker.note_attempt("fal", 9000)
    assert not tracker.saturated("fal")  # two calls are not yet a trend
    tracker.note_attempt("fal", 9000)
    assert tracker.saturated("fal")
    clock.now += 31
    assert not tracker.saturated("fal")
    tracker.note_attempt("fal", 300)  # the old slow calls were cleared: one quick call is no trend
    tracker.note_attempt("fal", 300)
    tracker.note_attempt("fal", 300)
    assert not tracker.saturated("fal")


def test_a_429_marks_for_its_retry_after_when_longer_than_the_hold() -> None:
    tracker, clock = saturation()
    tracker.note_attempt("fal", 50, RetryableProviderError("fal: HTTP 429: slow down", retry_after=90))
    clock.now += 60
    assert tracker.saturated("fal")
    tracker.note_attempt("together", 50, RetryableProviderError("together: HTTP 503: busy"))
    assert not tracker.saturated("together")  # a 5xx is the breaker's business, not load


def test_a_429_without_retry_after_marks_for_the_hold_and_a_cdn_429_does_not() -> None:
    tracker, clock = saturation()
    tracker.note_attempt("fal", 50, ProviderThrottled("fal: HTTP 429: slow down"))
    assert tracker.saturated("fal")
    clock.now += 31
    assert not tracker.saturated("fal")
    # The provider's image host throttling a download is not the provider's queue saturating.
    cdn = RetryableProviderError("fal: the image could not be loaded (http_status): HTTP 429")
    tracker.note_attempt("fal", 50, cdn)
    assert not tracker.saturated("fal")


def test_a_job_deep_in_the_primary_queue_marks_it() -> None:
    tracker, _ = saturation()
    job = Generation(
        id="gen_x", owner="u:1", style="oil", prompt="", variation=0, size=512, quality="fast",
        lane="free", tier="free", created_at="2026-01-01T00:00:00Z", request_hash="h",
        provider_job=ProviderJob("fal", "req-1"),
    )  # fmt: skip
    tracker.on_progressed(GenerationProgressed(job, JobProgress("starting", 0, provider_queue_position=4)))
    assert not tracker.saturated("fal")
    tracker.on_progressed(GenerationProgressed(job, JobProgress("starting", 0, provider_queue_position=25)))
    assert tracker.saturated("fal")
