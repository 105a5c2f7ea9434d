"""A generation as the API shows it: object keys become public URLs, an open job gets an ETA."""

from __future__ import annotations

from chalicelib.domain import models
from chalicelib.domain.generation import Generation
from chalicelib.ports import JobQueue, ObjectStore

TYPICAL_JOB_SECONDS = 4.0


class GenerationView:
    """Renders :class:`Generation` entities as the contract's ``Generation`` body."""

    def __init__(self, objects: ObjectStore, queue: JobQueue) -> None:
        self._objects = objects
        self._queue = queue

    def eta_seconds(self, generation: Generation) -> float | None:
        """A rough wait for an open job: a typical job per job ahead of it in its lane."""
        if not generation.is_open:
            return None
        return TYPICAL_JOB_SECONDS * (1 + self._queue.depth(generation.lane))

    def render(self, generation: Generation) -> models.Generation:
        images = None
        if generation.status == "succeeded" and generation.images:
            images = {size: self._objects.public_url(key) for size, key in generation.images.items()}
        error = None
        if generation.error is not None:
            error = models.ErrorInfo(code=generation.error.code, message=generation.error.message)
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
            eta_seconds=self.eta_seconds(generation),
            created_at=generation.created_at,
            completed_at=generation.completed_at,
        )
