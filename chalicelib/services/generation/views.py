"""A generation as the API shows it: object keys become public URLs, an open job gets its progress
(phase, percent, place in line, a message to show) and an ETA from measured latencies."""

from __future__ import annotations

import math
from collections.abc import Sequence

from chalicelib.domain.generation import Generation
from chalicelib.domain.progress import JobProgress
from chalicelib.domain.similarity import SimilarResult
from chalicelib.ports import Clock, JobQueue, ObjectStore
from chalicelib.schemas import models
from chalicelib.services.generation.latency import DEFAULT_SECONDS, LatencyEstimates

STORING_SECONDS = 1.0  # the image pipeline and the uploads: about a second
STARTING_PERCENT = 2.0
STORING_PERCENT = 95.0
MAX_ESTIMATED_PERCENT = 90.0  # an estimate never claims more than this: only the provider may


class GenerationView:
    """Renders :class:`Generation` entities as the contract's ``Generation`` body."""

    def __init__(
        self,
        objects: ObjectStore,
        queue: JobQueue,
        *,
        clock: Clock,
        latency: LatencyEstimates | None = None,
    ) -> None:
        self._objects = objects
        self._queue = queue
        self._clock = clock
        self._latency = latency

    @property
    def latency(self) -> LatencyEstimates | None:
        """The latency estimates the ETAs come from (benchmarks warm them before measuring)."""
        return self._latency

    def eta_seconds(self, generation: Generation) -> float | None:
        """Seconds until an open job is likely done (None once it ended)."""
        found = self._estimate(generation)
        return found[1] if found is not None else None

    def progress(self, generation: Generation) -> models.Progress | None:
        found = self._estimate(generation)
        return found[0] if found is not None else None

    def render(self, generation: Generation, similar: Sequence[SimilarResult] = ()) -> models.Generation:
        """The API body; ``similar``: the cached results of similar requests found as it was admitted."""
        images = None
        if generation.status == "succeeded" and generation.images:
            images = {size: self._objects.public_url(key) for size, key in generation.images.items()}
        error = None
        if generation.error is not None:
            error = models.ErrorInfo(code=generation.error.code, message=generation.error.message)
        found = self._estimate(generation)
        return models.Generation(
            id=generation.id,
            status=generation.status,
            style=generation.style,
            prompt=generation.prompt,
            variation=generation.variation,
            size=generation.size,
            quality=generation.quality,
            cached=generation.cached,
            images=images,
            provider=generation.provider,
            error=error,
            lane=generation.lane,
            eta_seconds=found[1] if found is not None else None,
            progress=found[0] if found is not None else None,
            similar=[
                models.SimilarImage(
                    id=result.id,
                    images={size: self._objects.public_url(key) for size, key in result.images.items()},
                    score=result.score,
                    prompt=result.prompt,  # None (left out) unless the caller's own request
                )
                for result in similar
            ],
            photo=generation.photo,
            created_at=generation.created_at,
            completed_at=generation.completed_at,
        )

    # -- the estimate --------------------------------------------------------------------------
    def _typical_seconds(self, quality: str) -> float:
        if self._latency is not None:
            return max(0.1, self._latency.p50_seconds(quality))
        return DEFAULT_SECONDS.get(quality, DEFAULT_SECONDS["standard"])

    def _estimate(self, generation: Generation) -> tuple[models.Progress, float] | None:
        if not generation.is_open:
            return None
        typical = self._typical_seconds(generation.model_quality)
        if generation.status == "queued":
            position = self._queue.position(generation.id, generation.lane)
            eta = typical * (1 + max(0, (position or 1) - 1)) + STORING_SECONDS
            where = f" (#{position} in line)" if position and position > 1 else ""
            return (
                models.Progress(
                    phase="queued",
                    percent=0.0,
                    queue_position=position,
                    message=f"Waiting to start{where}… {_about(eta)}",
                ),
                _round(eta),
            )
        record = _current(generation)
        phase = record.phase if record is not None else "starting"
        if phase == "storing":
            return (
                models.Progress(
                    phase="storing",
                    percent=STORING_PERCENT,
                    queue_position=None,
                    message="Almost there: saving your avatar…",
                ),
                STORING_SECONDS,
            )
        if phase == "starting":
            eta = typical + STORING_SECONDS
            return (
                models.Progress(
                    phase="starting",
                    percent=record.percent if record and record.percent is not None else STARTING_PERCENT,
                    queue_position=record.provider_queue_position if record else None,
                    message=f"Getting ready to create your avatar… {_about(eta)}",
                ),
                _round(eta),
            )
        elapsed = max(0.0, self._clock.time() - record.since_ms / 1000) if record and record.since_ms else 0.0
        percent = record.percent if record is not None else None
        if percent is not None and percent > 0:
            # The provider's own figure: the time left at the pace it reports, within reason.
            remaining = min(elapsed * (100 - percent) / percent, 3 * typical) if elapsed else typical
        else:
            share = min(1.0, elapsed / typical) if typical > 0 else 0.0
            percent = STARTING_PERCENT + (MAX_ESTIMATED_PERCENT - STARTING_PERCENT) * share
            remaining = max(typical - elapsed, 0.0)
        eta = max(1.0, remaining + STORING_SECONDS)
        return (
            models.Progress(
                phase="generating",
                percent=round(percent, 1),
                queue_position=None,
                message=f"Creating your unique avatar… {_about(eta)}",
            ),
            _round(eta),
        )


def _current(generation: Generation) -> JobProgress | None:
    """The recorded phase of the attempt that runs now (an earlier attempt's record is stale)."""
    record = generation.progress
    if record is None or record.attempt != generation.attempts:
        return None
    return record


def _round(seconds: float) -> float:
    return round(max(1.0, seconds), 1)


def _about(seconds: float) -> str:
    return f"about {max(1, math.ceil(seconds - 0.05))} s"
