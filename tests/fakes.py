"""Test doubles for ports: real behaviour with knobs (a gate, failure, call counting), and ways to
wait for background work without polling: :func:`settle`, :func:`wait_ended`, :func:`open_after`."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from typing import Any

from chalicelib.adapters.providers.procedural import ProceduralProvider
from chalicelib.domain.events import GenerationAdmitted, GenerationFinished
from chalicelib.ports import ImageProvider, ProviderError, ProviderRequest, ProviderResult

GATE_TIMEOUT_S = 30.0  # a gate the test never opens fails the job (and so the test), never hangs


class RecordingProvider(ImageProvider):
    """The real procedural renderer, counting calls per request and optionally held or failing.

    ``gate``: every call waits until the test opens it, so a job runs exactly as long as the test
    needs (rather than for a guessed number of seconds)."""

    name = "procedural"

    def __init__(
        self,
        error: ProviderError | None = None,
        cost_usd: float = 0.0,
        gate: threading.Event | None = None,
    ) -> None:
        self._inner = ProceduralProvider()
        self.cost_usd = cost_usd
        self.error = error
        self.gate = gate
        self.calls: Counter[tuple[str, str, int]] = Counter()
        self._lock = threading.Lock()

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        with self._lock:
            self.calls[(request.style_id, request.user_prompt, request.variation)] += 1
        if self.gate is not None and not self.gate.wait(GATE_TIMEOUT_S):
            raise AssertionError("the test never opened the provider's gate")
        if self.error is not None:
            raise self.error
        return dataclasses.replace(self._inner.generate(request), cost_usd=self.cost_usd)


class CountingRedis:
    """Wraps a RedisClient and counts round trips (scripts and commands), and which thread made each
    (``threads``): a request's own calls are those of the thread that served it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[str] = []
        self.threads: list[tuple[int, str]] = []

    def _count(self, call: str) -> None:
        self.calls.append(call)
        self.threads.append((threading.get_ident(), call))

    def calls_of_this_thread(self) -> list[str]:
        me = threading.get_ident()
        return [call for ident, call in self.threads if ident == me]

    def run_script(self, script: Any, keys: Any, args: Any, *, timeout: float | None = None) -> Any:
        self._count(f"script:{script.name}")
        return self._inner.run_script(script, keys, args, timeout=timeout)

    def command(self, *args: Any, timeout: float | None = None) -> Any:
        self._count(f"command:{args[0]}")
        return self._inner.command(*args, timeout=timeout)


def settle(container: Any, timeout: float = 30.0) -> None:
    """Wait until the embedded lanes have handled every message they were given (no polling)."""
    from chalicelib.adapters.queue.inprocess import InProcessQueue

    queue = container.ports.queue
    assert isinstance(queue, InProcessQueue), "only the embedded lanes can be waited for"
    assert queue.wait_idle(timeout), "the lanes did not finish their work in time"


def wait_ended(container: Any, generation_id: str, timeout: float = 30.0) -> None:
    """Wait until a job has ended, wherever it runs (a request's own thread, a lane, a webhook):
    told by its :class:`GenerationFinished` event on the container's bus, not by polling."""
    ended = threading.Event()

    def on_finished(event: GenerationFinished) -> None:
        if event.generation.id == generation_id:
            ended.set()

    container.bus.subscribe(GenerationFinished, on_finished)
    current = container.ports.store.generations.get(generation_id)  # it may have ended before we listened
    if current is not None and current.is_terminal:
        return
    assert ended.wait(timeout), f"{generation_id} did not end within {timeout}s"


def open_after(container: Any, admissions: int, gate: threading.Event) -> None:
    """Open ``gate`` once the store has decided ``admissions`` generation requests (whatever the
    outcome): a provider held at that gate is still running when every one of them arrives."""
    lock = threading.Lock()
    seen = 0

    def on_admitted(event: GenerationAdmitted) -> None:
        nonlocal seen
        with lock:
            seen += 1
            if seen >= admissions:
                gate.set()

    container.bus.subscribe(GenerationAdmitted, on_admitted)


class FakeClock:
    """:class:`chalicelib.ports.Clock` moved by hand: ``sleep`` advances it at once, and a test jumps
    past a deadline with ``advance`` instead of waiting for it.

    With the Redis store, start it at the real time (``FakeClock(time.time())``): some scripts set
    ``EXPIREAT`` from the clock's now, and Redis expires keys by its own (real) clock."""

    def __init__(self, now: float | None = None) -> None:
        # From the real time by default: the store scripts set absolute expiries (EXPIREAT) from
        # this clock, and a date in the past would expire what they write at once.
        self.now = time.time() if now is None else now
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - 1_600_000_000.0

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def path_of(url: str) -> str:
    """The path (and query) of an absolute URL: what the Chalice test client requests."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
