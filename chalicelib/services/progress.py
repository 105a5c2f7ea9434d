"""Publishing a running job's phase: the one line each step that moves a job on adds."""

from __future__ import annotations

from chalicelib.domain.events import GenerationProgressed
from chalicelib.domain.generation import Generation
from chalicelib.domain.progress import JobProgress, Phase
from chalicelib.messagebus import MessageBus
from chalicelib.ports import Clock


def publish_phase(bus: MessageBus | None, generation: Generation, phase: Phase, clock: Clock) -> None:
    """``GenerationProgressed`` for a claimed job entering ``phase`` now (its handlers push it)."""
    if bus is None:
        return
    progress = JobProgress(phase, since_ms=int(clock.time() * 1000), attempt=generation.attempts)
    bus.publish(GenerationProgressed(generation, progress))
