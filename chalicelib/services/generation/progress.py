"""Publishing a running job's phase: the one line each step that moves a job on adds.

A job run inside the request that waits for it is *unannounced* until that request answers: its
id is in no response yet, so nobody can poll or watch it, and recording each phase would cost the
hot path a store call for no one (a miss run in the request stays at two calls: admit, finish).
Its phases are held back instead; if the request answers before the job ends (202), the latest
one is published then, once. Its end needs no extra call either way: the finish script answers
who watches (``GenerationFinished.watchers``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from chalicelib.domain.events import GenerationProgressed
from chalicelib.domain.generation import Generation
from chalicelib.domain.progress import JobProgress, Phase
from chalicelib.ports import Clock
from chalicelib.services.messagebus import MessageBus


class Unannounced:
    """The phases of a job only its waiting request knows of, held until :meth:`announce`."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._lock = threading.Lock()
        self._announced = False
        self._latest: GenerationProgressed | None = None

    def hold(self, event: GenerationProgressed) -> bool:
        """Keep ``event`` back (True), or False once announced: publish it as usual."""
        with self._lock:
            if self._announced:
                return False
            self._latest = event
            return True

    def announce(self) -> None:
        """The request answered without the result: the job's id is out, its phase goes out now."""
        with self._lock:
            self._announced, latest, self._latest = True, self._latest, None
        if latest is not None:
            self._bus.publish(latest)


_running_unannounced: ContextVar[Unannounced | None] = ContextVar("avatarflow_unannounced", default=None)


@contextmanager
def unannounced(holder: Unannounced) -> Iterator[None]:
    """Run the body (a job inside its request) with its phases held by ``holder``."""
    token = _running_unannounced.set(holder)
    try:
        yield
    finally:
        _running_unannounced.reset(token)


def publish_progress(bus: MessageBus, event: GenerationProgressed) -> None:
    """Publish ``event`` unless the job is one its waiting request has not announced yet."""
    holder = _running_unannounced.get()
    if holder is not None and holder.hold(event):
        return
    bus.publish(event)


def publish_phase(bus: MessageBus, generation: Generation, phase: Phase, clock: Clock) -> None:
    """``GenerationProgressed`` for a claimed job entering ``phase`` now (its handlers push it)."""
    progress = JobProgress(phase, since_ms=int(clock.time() * 1000), attempt=generation.attempts)
    publish_progress(bus, GenerationProgressed(generation, progress))
