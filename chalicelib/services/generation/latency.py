"""How long a job of each quality takes: the p50 of recent runs, for ETAs and estimated progress.

Two sources, the freshest first:

- the runs this process finished itself (a window of the last ``WINDOW`` per quality, fed by the
  ``GenerationFinished`` handler): a lane worker, the local stage, an API container that runs fast
  jobs within the request;
- today's latency histogram per quality in the state store (``services.counters``: ``finish.lua``
  adds to it as every job ends), for a process that has seen too few runs. It is read at most once
  per ``refresh_s`` per process, from a background thread: never on a request's own path (a GET
  stays one store call); until it has been read, the estimate is the policy's default.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections import deque

from chalicelib.domain.events import GenerationFinished
from chalicelib.ports import Clock, Counters, StoreError
from chalicelib.services.operations.counters import latency_quality_keys, percentile

log = logging.getLogger(__name__)

WINDOW = 50
MIN_SAMPLES = 3
REFRESH_S = 300.0
# Before anything was measured (a new deployment, a quality nobody asked for today).
DEFAULT_SECONDS = {"fast": 4.0, "standard": 12.0, "pro": 20.0}
QUALITIES = ("fast", "standard", "pro")


class LatencyEstimates:
    """p50 of a quality's recent provider latencies, in seconds (see the module docstring)."""

    def __init__(
        self,
        counters: Counters | None,
        clock: Clock,
        *,
        refresh_s: float = REFRESH_S,
        background: bool = True,
    ) -> None:
        self._counters = counters
        self._clock = clock
        self._refresh_s = refresh_s
        self._background = background
        self._recent: dict[str, deque[float]] = {}
        self._stored: dict[str, float] = {}
        self._read_at: float | None = None
        self._reading = False
        self._lock = threading.Lock()

    def on_finished(self, event: GenerationFinished) -> None:
        """Handler: a job this process ended adds its provider latency to the window."""
        generation = event.generation
        latency_ms = generation.provider_latency_ms
        if generation.status != "succeeded" or generation.cached or not latency_ms or latency_ms <= 0:
            return
        with self._lock:
            self._recent.setdefault(generation.model_quality, deque(maxlen=WINDOW)).append(latency_ms / 1000)

    def p50_seconds(self, quality: str) -> float:
        with self._lock:
            recent = list(self._recent.get(quality, ()))
        if len(recent) >= MIN_SAMPLES:
            return statistics.median(recent)
        self._maybe_refresh()
        with self._lock:
            stored = self._stored.get(quality)
        if stored is not None:
            return stored
        if recent:
            return statistics.median(recent)
        return DEFAULT_SECONDS.get(quality, DEFAULT_SECONDS["standard"])

    def refresh(self) -> None:
        """Read today's histograms (one MGET); keeps what it had if the store does not answer.
        The next background read is due ``refresh_s`` from now."""
        if self._counters is None:
            return
        with self._lock:
            self._read_at = self._clock.monotonic()
        now = self._clock.time()
        keys = {quality: latency_quality_keys(now, quality) for quality in QUALITIES}
        try:
            values = self._counters.values([key for group in keys.values() for key in group])
        except StoreError:
            log.info("latency histograms unreadable for now; the estimates keep what they had")
            return
        found: dict[str, float] = {}
        offset = 0
        for quality, group in keys.items():
            counts = [int(v) for v in values[offset : offset + len(group)]]
            offset += len(group)
            p50_ms = percentile(counts, 0.5)
            if p50_ms is not None:
                found[quality] = p50_ms / 1000
        with self._lock:
            self._stored.update(found)

    def _maybe_refresh(self) -> None:
        if self._counters is None:
            return
        now = self._clock.monotonic()
        with self._lock:
            if self._reading or (self._read_at is not None and now - self._read_at < self._refresh_s):
                return
            self._reading = True
            self._read_at = now
        if not self._background:
            self._run_refresh()
            return
        threading.Thread(target=self._run_refresh, name="avatarflow-latency", daemon=True).start()

    def _run_refresh(self) -> None:
        try:
            self.refresh()
        except Exception:
            log.warning("latency refresh failed", exc_info=True)
        finally:
            with self._lock:
                self._reading = False
