"""Reading a provider job's outcome once (a webhook, a poll, the request waiting for it) and ending
the generation with it.

Whoever reads a finished provider job first takes a short completion claim (SET NX), so that a
webhook, a poll and the sync path never process the same output twice; ``finish.lua`` ends a job
exactly once in any case. A job the provider failed is submitted again a few times, then failed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Literal

from chalicelib.domain.errors import DomainError
from chalicelib.domain.events import GenerationProgressed, ProviderAttempted
from chalicelib.domain.generation import Generation
from chalicelib.domain.progress import JobProgress, Phase
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import (
    Clock,
    JobFailed,
    KeyValueStore,
    Pending,
    ProviderError,
    ProviderResult,
    QueuedProvider,
)
from chalicelib.services.generation.dispatch import Dispatch
from chalicelib.services.generation.finish import FinishGeneration
from chalicelib.services.generation.progress import publish_progress
from chalicelib.services.generation.run_job import NOT_RETRIED
from chalicelib.services.messagebus import MessageBus

log = logging.getLogger(__name__)

CollectOutcome = Literal["done", "pending", "transient", "busy", "failed"]
# Longer than one read-and-store of an output takes (the download is bounded by the fetch timeout,
# a webhook by the API function's 29 s), and no longer: a container that dies holding the claim
# (killed, timed out) keeps every poll and redelivery of the job "busy" until it lapses.
COMPLETION_CLAIM_S = 60


class CollectResult:
    """Ends a generation with its provider job's outcome, once (see the module docstring)."""

    def __init__(
        self,
        *,
        kv: KeyValueStore,
        finish: FinishGeneration,
        dispatch: Dispatch,
        bus: MessageBus,
        clock: Clock,
        max_attempts: int,
    ) -> None:
        self._kv = kv
        self._finish = finish
        self._dispatch = dispatch
        self._bus = bus
        self._clock = clock
        self._max_attempts = max(1, max_attempts)

    def poll(self, generation: Generation, provider: QueuedProvider, job: ProviderJob) -> CollectOutcome:
        """Ask the provider how the job is doing, and end the generation if it is done."""
        return self.collect(
            generation,
            provider,
            job,
            lambda: provider.poll(job, quality=generation.model_quality, size=generation.size),
        )

    def collect(
        self,
        generation: Generation,
        provider: QueuedProvider,
        job: ProviderJob,
        produce: Callable[[], ProviderResult | Pending | None],
    ) -> CollectOutcome:
        """Read a provider job's outcome once (completion claim) and end the job if it is final."""
        claim = f"completing:{generation.id}"
        if not self._kv.set_once(claim, job.id, COMPLETION_CLAIM_S):
            return "busy"
        try:
            result = produce()
        except JobFailed as failed:
            self._kv.delete(claim)
            self._bus.publish(ProviderAttempted(provider.name, error_kind=failed.error.kind))
            log.warning(
                "provider job failed (%s): %s",
                failed.error.kind,
                failed.error,
                extra={
                    "job_id": generation.id,
                    "provider": provider.name,
                    "vendor_request_id": failed.error.vendor_request_id or job.id,
                },
            )
            self._provider_failed(generation, failed.error, provider.name)
            return "failed"
        except ProviderError:
            self._kv.delete(claim)
            log.warning("provider job unreadable for now", exc_info=True, extra={"job_id": generation.id})
            return "transient"
        except BaseException:
            self._kv.delete(claim)
            raise
        if result is None or isinstance(result, Pending):
            self._kv.delete(claim)
            if result is not None:
                self._progressed(generation, result)
            return "pending"
        now_ms = self._clock.time() * 1000
        latency_ms = max(0.0, now_ms - job.submitted_ms) if job.submitted_ms else result.latency_ms
        try:
            self._finish.succeed(
                generation, dataclasses.replace(result, provider=provider.name, latency_ms=latency_ms)
            )
        except DomainError as exc:  # an unusable image: the job fails (refunded)
            self._finish.fail_for(generation, exc, provider=provider.name)
            return "failed"
        except BaseException:
            self._kv.delete(claim)  # e.g. the object store failed: whoever comes next retries
            raise
        return "done"

    def _progressed(self, generation: Generation, pending: Pending) -> None:
        """What the provider said of a job still running there, for whoever watches it."""
        phase: Phase = "generating" if pending.running else "starting"
        known = generation.progress
        same = known is not None and known.phase == phase and known.attempt == generation.attempts
        publish_progress(
            self._bus,
            GenerationProgressed(
                generation,
                JobProgress(
                    phase,
                    since_ms=known.since_ms if same and known else int(self._clock.time() * 1000),
                    attempt=generation.attempts,
                    percent=pending.percent,
                    provider_queue_position=pending.queue_position,
                ),
            ),
        )

    def _provider_failed(self, generation: Generation, exc: ProviderError, provider: str) -> None:
        """The provider says the job failed: retry it (a new submission) a few times, then fail it."""
        if exc.kind in NOT_RETRIED or max(1, generation.attempts) >= self._max_attempts:
            self._finish.fail_for(generation, exc, provider=provider)
        else:
            self._dispatch.requeue(generation, exc)
