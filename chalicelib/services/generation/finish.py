"""Ending a job: succeeded (the image processed, every size stored) or failed (refunded), once.

``finish.lua`` ends the job and every identical request that joined it in one atomic call, with
the job's stats counters; the spend counters of a paid provider call are added by the same call
even when the job had already ended. Whoever ends it publishes :class:`GenerationFinished`, and
every paid provider call :class:`SpendRecorded`, for the handlers to react.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from chalicelib.domain.errors import DomainError, ProviderUnavailable
from chalicelib.domain.events import BatchItemsEnded, GenerationFinished, SpendRecorded
from chalicelib.domain.generation import Failure, Generation, Outcome, Success, iso
from chalicelib.domain.periods import spend_keys
from chalicelib.domain.trend_periods import DAY_TREND_TTL_S, HOUR_TREND_TTL_S, hour_spend_key
from chalicelib.ports import (
    Clock,
    Counter,
    Finish,
    FollowersEnded,
    GenerationStore,
    ImageHolders,
    ImagePipeline,
    ImageRejected,
    ObjectStore,
    ObjectStoreError,
    ProviderError,
    ProviderResult,
    StoreError,
)
from chalicelib.services.generation.progress import publish_phase
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.operations.counters import job_counters

log = logging.getLogger(__name__)

DAY_TTL = DAY_TREND_TTL_S  # the dashboard's 30-day spend trend reads them
HOUR_TTL = HOUR_TREND_TTL_S
MONTH_TTL = 40 * 86400
NO_PROVIDER = "No provider could serve it."


def failure_for(exc: BaseException) -> Failure:
    """The failure a job deserves for an exception that ended it."""
    if isinstance(exc, ProviderError):
        if exc.kind == "content_rejected":
            return Failure("content_rejected", str(exc))
        return Failure("provider_unavailable", NO_PROVIDER)
    if isinstance(exc, DomainError):
        return Failure(exc.code, exc.message)
    return Failure("internal", "The generation failed unexpectedly.")


class FinishGeneration:
    """Ends jobs: :meth:`succeed` with a provider's result, :meth:`fail` with a reason."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        objects: ObjectStore,
        pipeline: ImagePipeline,
        bus: MessageBus,
        clock: Clock,
        cache_ttl_s: int,
        holders: ImageHolders,
    ) -> None:
        self._generations = generations
        self._holders = holders
        self._objects = objects
        self._pipeline = pipeline
        self._bus = bus
        self._clock = clock
        self._cache_ttl = cache_ttl_s

    def succeed(self, generation: Generation, result: ProviderResult) -> Generation | None:
        """The image pipeline, every size stored, and the job ended as succeeded with its spend and
        stats. Returns the generation as it ended, or None if it had already ended (elsewhere).
        Raises ``ProviderUnavailable`` for an unusable image."""
        publish_phase(self._bus, generation, "storing", self._clock)
        try:
            renditions = self._pipeline.renditions(
                result.picture if result.picture is not None else result.image, generation.sizes
            )
        except ImageRejected as exc:
            raise ProviderUnavailable(f"The provider returned an unusable image ({exc.reason}).") from exc
        for rendition in renditions:
            self._objects.put(rendition.key, rendition.data, rendition.content_type)
        outcome = Success(
            images={str(r.size): r.key for r in renditions},
            provider=result.provider,
            model=result.model,
            latency_ms=result.latency_ms,
            cost_usd=result.cost_usd,
        )
        return self._end(generation, outcome, self._spend(generation, result.provider, result.cost_usd))

    def fail(
        self, generation: Generation, failure: Failure, *, failed_providers: tuple[str, ...] = ()
    ) -> Generation | None:
        """End a job as failed (its charge refunded); None if it had already ended."""
        return self._end(generation, failure, failed_providers=failed_providers)

    def fail_for(
        self, generation: Generation, exc: BaseException, *, provider: str | None = None
    ) -> Generation | None:
        """End a job as failed with the error code its exception deserves. ``provider`` is the
        provider that failed it (an error, or an unusable image), counted as failed in the stats
        where the error names none itself."""
        failure = failure_for(exc)
        failed: tuple[str, ...] = ()
        if isinstance(exc, ProviderError):
            log.warning("provider failed", extra={"job_id": generation.id, "kind": exc.kind})
        if failure.code == "provider_unavailable":  # not a refusal (it proves the provider works)
            named = exc.failed_providers if isinstance(exc, ProviderError) else None
            failed = named if named is not None else ((provider,) if provider else ())
        return self.fail(generation, failure, failed_providers=failed)

    def _end(
        self,
        generation: Generation,
        outcome: Outcome,
        spend: list[Counter] | None = None,
        *,
        failed_providers: tuple[str, ...] = (),
    ) -> Generation | None:
        now = self._clock.time()
        ended = generation.ended(outcome, iso(now))
        made = outcome if isinstance(outcome, Success) else None
        stats = job_counters(
            now,
            status=ended.status,
            tier=generation.tier,
            provider=made.provider if made else None,
            latency_ms=made.latency_ms if made else None,
            failed_providers=failed_providers,
            quality=generation.model_quality,  # per model: the dev arm of `fast` is FLUX.1 [dev]
        )
        # The store adds the spend even if the job had already ended (a late result was paid for
        # all the same), and the stats only if this call ends it (each job counts once).
        finished = self._generations.finish(
            Finish(ended, cache_ttl=self._cache_ttl, counters=stats, spend=spend or ())
        )
        if made is not None and made.cost_usd > 0:
            # Paid whether or not the job was still open: the spend guard must see it.
            self._bus.publish(SpendRecorded(made.provider, generation.tier, made.cost_usd))
        if finished.erased:
            # Its caller erased their data while it ran: nothing of it is kept or sent anywhere.
            later = self._end_followers(ended.id, finished.pending)
            followers = finished.followers + later.ended
            if made is not None and not followers:
                self._drop_unheld(made.images.values())
            # Its followers (other callers) got the result all the same: their batches may end.
            batches = _merged(finished.batches, later.batches)
            if batches:
                self._bus.publish(BatchItemsEnded(batches))
            return None
        if not finished.ended:
            return None
        later = self._end_followers(ended.id, finished.pending)
        self._bus.publish(
            GenerationFinished(
                ended,
                followers=finished.followers + later.ended,
                watchers=finished.watchers,
                follower_batches=_merged(finished.batches, later.batches),
            )
        )
        return ended

    def _drop_unheld(self, object_keys: Iterable[str]) -> None:
        """Delete the images of a dropped result that no other generation serves (the same bytes
        may be another request's result: images are content-addressed)."""
        try:
            for key in self._holders.unheld(list(object_keys)):
                self._objects.delete(key)
        except (StoreError, ObjectStoreError) as exc:  # the retention rule deletes them later
            log.warning("images of an erased job not deleted now: %s", exc)

    def finish_followers(self, generation_id: str, pending: int = 1) -> int:
        """End the identical requests an ended job still has (the reaper's entry: their finisher
        stopped half way); returns how many were ended. Their batches may end with them."""
        done = self._end_followers(generation_id, pending)
        if done.batches:
            self._bus.publish(BatchItemsEnded(done.batches))
        return done.ended

    def _end_followers(self, generation_id: str, pending: int) -> FollowersEnded:
        """End the identical requests an ended job still has, a chunk per store call (so that
        no call holds the store for long): how many were ended, and their batches. Whatever a
        failure here leaves, the reaper's ``followers`` timer picks up."""
        ended, batches = 0, tuple[str, ...]()
        while pending > 0:
            chunk = self._generations.finish_followers(generation_id)
            ended, pending, batches = ended + chunk.ended, chunk.left, _merged(batches, chunk.batches)
        return FollowersEnded(ended, 0, batches)

    def _spend(self, generation: Generation, provider: str, cost: float) -> list[Counter]:
        """What a paid job adds to the spend counters, in the same call that finishes it."""
        if cost <= 0:
            return []
        day, month = spend_keys(self._clock.time())
        tier = generation.tier
        return [
            Counter(day, cost, DAY_TTL),
            Counter(f"{day}:provider:{provider}", cost, DAY_TTL),
            Counter(f"{day}:tier:{tier}", cost, DAY_TTL),
            Counter(month, cost, MONTH_TTL),
            Counter(f"{month}:provider:{provider}", cost, MONTH_TTL),
            Counter(f"{month}:tier:{tier}", cost, MONTH_TTL),
            Counter(hour_spend_key(self._clock.time()), cost, HOUR_TTL),
        ]


def _merged(first: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    """Two lists of batch ids as one, each once, in order."""
    return tuple(dict.fromkeys((*first, *more)))
