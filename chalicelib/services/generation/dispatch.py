"""Handing admitted jobs to their lanes, and deciding whether a request may wait for its job.

Nothing is lost on the way, and an admitted request is never told it was not done: a job that
cannot be queued now (the queue or the store failed) stays queued, answered 202 with its id, and
the dispatch sweep (``services/generation/sweep.py``) puts it on its lane 30 s on; a job whose attempt failed
is released and queued again, likewise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.domain.generation import Generation
from chalicelib.ports import GenerationStore, JobQueue, StoreError
from chalicelib.services.generation.policy import GenerationPolicy

log = logging.getLogger(__name__)


class Dispatch:
    """Puts jobs on their lanes (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        queue: JobQueue,
        policy: GenerationPolicy,
        provider_healthy: Callable[[str], bool],
    ) -> None:
        self._generations = generations
        self._queue = queue
        self._policy = policy
        self._provider_healthy = provider_healthy

    def sync_allowed(self, quality: str, lane: str) -> bool:
        """Answer within the wait only for a quick quality, a lane that is not backed up and a
        provider that is healthy; anything else is queued at once (202)."""
        if quality not in self._policy.sync_qualities:
            return False
        if self._queue.depth(lane) > self._policy.sync_max_depth:
            return False
        return self._provider_healthy(quality)

    def enqueue(self, generation: Generation) -> None:
        """Queue a job on its lane. It is admitted and charged: if the queue fails, it stays
        queued and the dispatch sweep queues it (never a refusal of a request already admitted)."""
        try:
            self._queue.enqueue(generation.id, generation.lane)
        except Exception:
            log.exception(
                "enqueue failed; the dispatch sweep queues the job", extra={"job_id": generation.id}
            )

    def hand_over(self, generation: Generation) -> None:
        """A job still running in this request when it answers: with a durable queue, the lane
        takes it over if (and only if) this call's lease runs out unfinished (a Lambda may be
        frozen once it has answered); the claim keeps it from running twice."""
        if not self._queue.durable:
            return
        try:
            self._queue.enqueue(generation.id, generation.lane)
        except Exception:
            log.warning("could not hand a running job to its lane", extra={"job_id": generation.id})

    def requeue(self, generation: Generation, exc: BaseException) -> None:
        """Release a job whose attempt failed and put it back on its lane. Whatever fails on the
        way (the store, the queue), the job is left for the dispatch sweep, which queues it once
        nobody holds it: never failed for a fault of ours, never an error for the request."""
        try:
            if not self._generations.release(generation.id):
                return
        except StoreError:
            log.warning("could not release a job; its lease runs out first", extra={"job_id": generation.id})
            return
        try:
            self._queue.enqueue(generation.id, generation.lane)
        except Exception:
            log.exception(
                "could not requeue a job; the dispatch sweep queues it",
                extra={"job_id": generation.id, "attempt_error": type(exc).__name__},
            )
