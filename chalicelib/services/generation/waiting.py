"""Waiting for a job that someone else runs (an identical request's, or a replayed one's).

No polling: the store's finish script pushes each ended job's outcome to a short-lived list and the
waiter blocks on it (``BLPOP``) for the rest of its wait, in one round trip.
"""

from __future__ import annotations

import logging

from chalicelib.domain.generation import Generation
from chalicelib.ports import GenerationStore, StoreError

log = logging.getLogger(__name__)


class WaitForGeneration:
    """Blocks until a generation ends or the wait runs out."""

    def __init__(self, *, generations: GenerationStore) -> None:
        self._generations = generations

    def until_ended(self, generation: Generation, wait: float) -> Generation:
        """The generation as it ended, or as it is (still open) after ``wait`` seconds."""
        if wait <= 0 or not generation.is_open:
            return generation
        try:
            return self._generations.wait_ended(generation, wait) or generation
        except StoreError:
            # The job is admitted (and charged): a wait that failed is no reason to refuse the
            # request. It is answered as it is, still open (202, with its id to look it up).
            log.warning("waiting for a job failed; answering it as open", extra={"job_id": generation.id})
            return generation
