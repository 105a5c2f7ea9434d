"""Waiting for a job that someone else runs (an identical request's, or a replayed one's)."""

from __future__ import annotations

from chalicelib.domain.generation import Generation
from chalicelib.ports import Clock, GenerationStore

FIRST_LOOK_S = 0.05
MAX_GAP_S = 0.5


class WaitForGeneration:
    """Reads the job again, at a growing gap, until it ends or the wait runs out."""

    def __init__(self, *, generations: GenerationStore, clock: Clock) -> None:
        self._generations = generations
        self._clock = clock

    def until_ended(self, generation: Generation, wait: float) -> Generation:
        deadline = self._clock.monotonic() + wait
        delay = FIRST_LOOK_S
        while self._clock.monotonic() < deadline:
            self._clock.sleep(min(delay, max(0.0, deadline - self._clock.monotonic())))
            latest = self._generations.get(generation.id)
            if latest is None:
                return generation
            generation = latest
            if generation.is_terminal:
                break
            delay = min(delay * 1.5, MAX_GAP_S)
        return generation
