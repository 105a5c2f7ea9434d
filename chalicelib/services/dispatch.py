"""Handing admitted jobs to their lanes, and deciding whether a request may wait for its job.

Nothing is lost on the way: a job that cannot be queued ends at once, failed and refunded, and
the client is told (503); a job whose attempt failed is released and queued again, or failed if
that is impossible too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.domain.errors import ProviderUnavailable
from chalicelib.domain.generation import Failure, Generation
from chalicelib.ports import GenerationStore, JobQueue
from chalicelib.services.finish import FinishGeneration
from chalicelib.services.gallery import GalleryService
from chalicelib.services.policy import GenerationPolicy

log = logging.getLogger(__name__)

NOT_QUEUED = Failure("internal", "The job could not be queued.")


class Dispatch:
    """Puts jobs on their lanes (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        queue: JobQueue,
        finish: FinishGeneration,
        gallery: GalleryService,
        policy: GenerationPolicy,
        provider_healthy: Callable[[str], bool],
    ) -> None:
        self._generations = generations
        self._queue = queue
        self._finish = finish
        self._gallery = gallery
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
        """Queue a job on its lane; if that fails, fail the job (refunded) and raise a 503."""
        try:
            self._queue.enqueue(generation.id, generation.lane)
        except Exception as exc:
            log.exception("enqueue failed", extra={"job_id": generation.id})
            self._finish.fail(generation, NOT_QUEUED)
            raise ProviderUnavailable(
                "The generation could not be queued; it was not charged.",
                retry_after=30,
                suggestions=self._gallery.suggest(generation.style, generation.prompt),
            ) from exc

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
        """Release a job whose attempt failed and put it back on its lane (fail it if impossible)."""
        if not self._generations.release(generation.id):
            return
        try:
            self._queue.enqueue(generation.id, generation.lane)
        except Exception:
            log.exception("could not requeue a job", extra={"job_id": generation.id})
            self._finish.fail_for(generation, exc)
