"""Progress of an open generation: the phase record, what providers say while a job runs, the
estimates of the view (percent, place in line, ETA from measured latencies) and their sources."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest

from chalicelib.adapters.providers.progress import percent_in_logs, percent_in_text, runpod_percent
from chalicelib.adapters.providers.queued import FalQueue, ReplicateQueue, RunPodQueue
from chalicelib.adapters.queue.inprocess import InProcessQueue
from chalicelib.domain.events import GenerationFinished, GenerationProgressed
from chalicelib.domain.generation import Generation, Success
from chalicelib.domain.progress import JobProgress, clamp_percent
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import Pending, StoreError
from chalicelib.services.generation.collect import CollectResult
from chalicelib.services.generation.latency import DEFAULT_SECONDS, LatencyEstimates
from chalicelib.services.generation.views import GenerationView
from chalicelib.services.messagebus import MessageBus
from tests.fakes import FakeClock

NOW = 1_700_000_000.0


def generation(status: str = "queued", **changes: Any) -> Generation:
    base = Generation(
        id="gen_abc",
        owner="u:alice",
        style="anime",
        prompt="a fox",
        variation=0,
        size=512,
        quality="fast",
        lane="free",
        tier="free",
        created_at="2023-11-14T22:13:20.000Z",
        request_hash="h",
    )
    return dataclasses.replace(base, status=status, **changes)  # type: ignore[arg-type]


# -- the record -------------------------------------------------------------------------------------


def test_a_phase_record_round_trips_and_anything_unreadable_is_none() -> None:
    record = JobProgress(
        "generating", since_ms=1_700_000_000_000, attempt=2, percent=42.25, provider_queue_position=3
    )
    assert JobProgress.from_json(record.to_json()) == dataclasses.replace(record, percent=42.2)
    for bad in (
        None,
        "",
        "{",
        "[]",
        '{"phase": "queued"}',
        '{"phase": "dancing"}',
        '{"phase": "storing", "since": "x"}',
    ):
        assert JobProgress.from_json(bad) is None
    claimed = generation("running", attempts=2, progress=record)
    assert Generation.from_fields(claimed.to_fields()).progress == JobProgress.from_json(record.to_json())
    assert claimed.released().progress is None
    assert [clamp_percent(v) for v in (150, -3, "12.5", "x", True, float("nan"), None)] == [
        100.0,
        0.0,
        12.5,
        None,
        None,
        None,
        None,
    ]


# -- what providers say -----------------------------------------------------------------------------


def test_percentages_come_from_the_last_progress_line_of_the_logs() -> None:
    replicate_logs = (
        "Using seed: 1\n  0%|          | 0/4 [00:00<?, ?it/s]\n 50%|█████     | 2/4 [00:01<00:01]\n"
    )
    assert percent_in_logs(replicate_logs) == 50.0
    fal_logs = [{"message": "loading"}, {"message": "step 3/12"}, {"message": "step 9/12"}]
    assert percent_in_logs(fal_logs) == 75.0
    assert percent_in_logs([]) is None and percent_in_logs(None) is None and percent_in_logs(7) is None
    assert percent_in_text("no figures here") is None
    assert percent_in_text("done 12/10") is None  # more steps than the total is no figure
    assert [
        runpod_percent(v) for v in (0.4, 40, "40%", {"progress": 0.25}, {"percent": 80}, {}, True, None)
    ] == [
        40.0,
        40.0,
        40.0,
        25.0,
        80.0,
        None,
        None,
        None,
    ]


class FalStub:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def status_detail(self, status_url: str) -> dict[str, Any]:
        return self.doc


class StatusStub:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def prediction(self, job_id: str) -> dict[str, Any]:
        return self.doc

    def status(self, job_id: str) -> dict[str, Any]:
        return self.doc


def test_queue_apis_answer_pending_with_what_the_provider_said() -> None:
    job = ProviderJob("fal", "req-1", status_url="https://queue.fal.run/x/status")

    def fal(doc: dict[str, Any]) -> Any:
        return FalQueue(cast(Any, FalStub(doc))).poll(job, quality="fast", size=512)

    assert fal({"status": "IN_QUEUE", "queue_position": 4}) == Pending(running=False, queue_position=4)
    assert fal({"status": "IN_PROGRESS", "logs": [{"message": "30%|███"}]}) == Pending(percent=30.0)
    replicate = ReplicateQueue(cast(Any, StatusStub({"status": "processing", "logs": "step 1/4"})))
    assert replicate.poll(job, quality="fast", size=512) == Pending(percent=25.0)
    assert ReplicateQueue(cast(Any, StatusStub({"status": "starting"}))).poll(
        job, quality="fast", size=512
    ) == Pending(running=False)
    runpod = RunPodQueue(cast(Any, StatusStub({"status": "IN_PROGRESS", "output": 0.6})))
    assert runpod.poll(job, quality="fast", size=512) == Pending(percent=60.0)
    assert RunPodQueue(cast(Any, StatusStub({"status": "IN_QUEUE"}))).poll(
        job, quality="fast", size=512
    ) == Pending(running=False)


class MemoryKv:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def set_once(self, key: str, value: str, ttl: int) -> bool:
        return self.values.setdefault(key, value) == value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def test_a_poll_that_reports_progress_publishes_it_and_releases_the_completion_claim() -> None:
    bus = MessageBus()
    seen: list[GenerationProgressed] = []
    bus.subscribe(GenerationProgressed, seen.append)
    kv = MemoryKv()
    collect = CollectResult(
        kv=cast(Any, kv),
        finish=cast(Any, None),
        dispatch=cast(Any, None),
        bus=bus,
        clock=FakeClock(NOW),
        max_attempts=3,
    )
    running = generation("running", attempts=1)
    job = ProviderJob("fal", "req-1")
    queued_api = cast(Any, type("Q", (), {"name": "fal"})())
    assert collect.collect(running, queued_api, job, lambda: Pending(percent=55.0)) == "pending"
    assert (
        collect.collect(running, queued_api, job, lambda: Pending(running=False, queue_position=2))
        == "pending"
    )
    assert [(e.progress.phase, e.progress.percent, e.progress.provider_queue_position) for e in seen] == [
        ("generating", 55.0, None),
        ("starting", None, 2),
    ]
    assert all(e.progress.attempt == 1 and e.progress.since_ms == int(NOW * 1000) for e in seen)
    assert kv.values == {}  # the next poll or webhook may read it again


# -- the view's estimates ---------------------------------------------------------------------------


class FixedLatency:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def p50_seconds(self, quality: str) -> float:
        return self.seconds


def view(queue: Any = None, p50: float = 4.0, clock: FakeClock | None = None) -> GenerationView:
    objects = cast(Any, type("O", (), {"public_url": lambda self, key: f"https://cdn/{key}"})())
    return GenerationView(
        objects,
        queue or InProcessQueue(),
        clock=clock or FakeClock(NOW),
        latency=cast(Any, FixedLatency(p50)),
    )


def test_a_queued_job_shows_its_place_in_line_and_waits_for_those_ahead() -> None:
    queue = InProcessQueue()
    queue.enqueue("gen_first", "free")
    queue.enqueue("gen_abc", "free")
    queue.enqueue("gen_premium", "premium")  # served before the free lane: ahead of us
    assert queue.position("gen_premium", "premium") == 1
    assert queue.position("gen_abc", "free") == 3
    assert queue.position("gen_unknown", "free") is None
    rendered = view(queue, p50=4.0).render(generation("queued"))
    assert rendered.progress is not None
    assert rendered.progress.phase == "queued" and rendered.progress.queue_position == 3
    assert rendered.progress.percent == 0.0
    assert rendered.eta_seconds == 4.0 * 3 + 1.0
    assert rendered.progress.message == "Waiting to start (#3 in line)… about 13 s"


def test_a_running_job_is_estimated_from_the_measured_latency_unless_the_provider_says() -> None:
    clock = FakeClock(NOW)
    since = int((NOW - 2.0) * 1000)
    generating = generation("running", attempts=1, progress=JobProgress("generating", since, 1))
    rendered = view(p50=4.0, clock=clock).render(generating)
    assert rendered.progress is not None and rendered.progress.phase == "generating"
    assert rendered.progress.percent == pytest.approx(46.0)  # 2 s of a 4 s p50, within 2..90
    assert rendered.eta_seconds == 3.0  # 2 s left at the p50, plus storing
    assert rendered.progress.message == "Creating your unique avatar… about 3 s"

    told = generation("running", attempts=1, progress=JobProgress("generating", since, 1, percent=80.0))
    from_provider = view(p50=4.0, clock=clock).render(told)
    assert from_provider.progress is not None and from_provider.progress.percent == 80.0
    assert from_provider.eta_seconds == 1.5  # 2 s for 80 %: 0.5 s left, plus storing

    stale = generation("running", attempts=2, progress=JobProgress("storing", since, 1))
    starting = view(p50=4.0, clock=clock).render(stale)  # an earlier attempt's record: starting
    assert starting.progress is not None and starting.progress.phase == "starting"
    storing = view(clock=clock).render(
        generation("running", attempts=2, progress=JobProgress("storing", since, 2))
    )
    assert storing.progress is not None and storing.progress.percent == 95.0 and storing.eta_seconds == 1.0

    ended = view().render(
        generation("succeeded", images={"512": "img/a.webp"}, completed_at="2023-11-14T22:13:21.000Z")
    )
    assert ended.progress is None and ended.eta_seconds is None


# -- latency estimates ------------------------------------------------------------------------------


class Histograms:
    def __init__(self, values: list[float] | None = None, fail: bool = False) -> None:
        self.values_ = values
        self.fail = fail
        self.reads = 0

    def values(self, keys: list[str]) -> list[float]:
        self.reads += 1
        if self.fail:
            raise StoreError("down")
        return self.values_ or [0.0] * len(keys)

    def quota_counts(self, keys: list[str]) -> list[int]:
        return [0] * len(keys)


def finished(quality: str, latency_ms: float) -> GenerationFinished:
    ended = generation("running", quality=quality).ended(
        Success({"512": "img/a.webp"}, "procedural", latency_ms=latency_ms), "2023-11-14T22:13:21.000Z"
    )
    return GenerationFinished(ended)


def test_the_p50_of_this_processs_recent_runs_wins_then_the_stores_then_the_default() -> None:
    clock = FakeClock(NOW)
    histograms = Histograms()
    latency = LatencyEstimates(cast(Any, histograms), clock, background=False)
    assert latency.p50_seconds("standard") == DEFAULT_SECONDS["standard"]  # nothing measured anywhere
    assert histograms.reads == 1
    assert latency.p50_seconds("standard") == DEFAULT_SECONDS["standard"]
    assert histograms.reads == 1  # read at most once per refresh interval

    for ms in (900, 1100, 1000):
        latency.on_finished(finished("fast", ms))
    latency.on_finished(GenerationFinished(generation("failed")))  # no latency: ignored
    assert latency.p50_seconds("fast") == 1.0

    # Today's histogram per quality: 10 buckets (le250 ... le60000, inf) for fast, standard, pro.
    counts = [0.0] * 30
    counts[10 + 5] = 3.0  # standard: three runs in the le8000 bucket
    stored = LatencyEstimates(cast(Any, Histograms(counts)), clock, background=False)
    assert stored.p50_seconds("standard") == 8.0
    down = LatencyEstimates(cast(Any, Histograms(fail=True)), clock, background=False)
    assert down.p50_seconds("pro") == DEFAULT_SECONDS["pro"]
