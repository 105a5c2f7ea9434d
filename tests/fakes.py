"""Test doubles for ports: real behaviour with knobs (delay, failure, call counting)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from typing import Any

from chalicelib.adapters.providers.procedural import ProceduralProvider
from chalicelib.ports import ImageProvider, ProviderError, ProviderRequest, ProviderResult


class RecordingProvider(ImageProvider):
    """The real procedural renderer, counting calls per request and optionally slow or failing."""

    name = "procedural"

    def __init__(self, delay: float = 0.0, error: ProviderError | None = None, cost_usd: float = 0.0) -> None:
        self._inner = ProceduralProvider()
        self.cost_usd = cost_usd
        self.delay = delay
        self.error = error
        self.calls: Counter[tuple[str, str, int]] = Counter()
        self._lock = threading.Lock()

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        with self._lock:
            self.calls[(request.style_id, request.user_prompt, request.variation)] += 1
        if self.delay:
            time.sleep(self.delay)
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

    def run_script(self, script: Any, keys: Any, args: Any) -> Any:
        self._count(f"script:{script.name}")
        return self._inner.run_script(script, keys, args)

    def command(self, *args: Any) -> Any:
        self._count(f"command:{args[0]}")
        return self._inner.command(*args)


def settle(container: Any, timeout: float = 30.0) -> None:
    """Wait until the embedded lanes have handled every message they were given (no polling)."""
    from chalicelib.adapters.queue.inprocess import InProcessQueue

    queue = container.queue
    assert isinstance(queue, InProcessQueue), "only the embedded lanes can be waited for"
    assert queue.wait_idle(timeout), "the lanes did not finish their work in time"


class FakeClock:
    """:class:`chalicelib.ports.Clock` moved by hand: ``sleep`` advances it at once, and a test jumps
    past a deadline with ``advance`` instead of waiting for it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
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
