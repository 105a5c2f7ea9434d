"""The burst lane: when the primary provider of a quality is saturated, new work goes to the burst
provider (RunPod, your own serverless endpoint) first, until the primary recovers.

Saturated means, for a vendor (what this process has seen of it, in :class:`Saturation`):

- it answered 429 (throttled): for ``hold_s``, or its ``Retry-After`` if longer;
- the median of its last successful calls (at least ``min_samples`` since it was last marked)
  took more than ``latency_s``;
- a job of ours waited deeper than ``queue_position`` in its queue (webhook mode: the position
  its status reports, from ``GenerationProgressed``).

Each signal holds the burst for ``hold_s``; then the primary gets new work again, and the next
calls tell whether it has recovered (its samples were cleared when it was marked, so old slow
calls do not count twice). The burst stays within the spend guard: it is used only while today's
spend is under ``budget_share`` of the daily budget (:class:`BurstSpendGuard`, one counter read
every ``ttl_s`` at most, and only while a primary is saturated); past that share, saturation
queues work at the primary as before instead of paying a second vendor.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.budget import Budget
from chalicelib.domain.events import GenerationProgressed
from chalicelib.domain.periods import spend_keys
from chalicelib.ports import Counters, ProviderError, ProviderThrottled, StoreError, breaker_outcome

__all__ = ["BurstLane", "BurstPolicy", "BurstSpendGuard", "Saturation"]

log = logging.getLogger("avatarflow.providers")


@dataclass(frozen=True)
class BurstPolicy:
    """When a primary counts as saturated, and which provider takes the burst."""

    provider: str = "runpod"
    latency_s: float = 8.0
    queue_position: int = 10
    hold_s: float = 30.0
    window: int = 5  # successful calls in the median
    min_samples: int = 3  # fresh samples needed before latency can mark a vendor again


class Saturation:
    """Which vendors are saturated now, as this process has seen them (see the module doc)."""

    def __init__(self, policy: BurstPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._until: dict[str, float] = {}
        self._latencies: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def saturated(self, vendor: str) -> bool:
        with self._lock:
            return self._until.get(vendor, 0.0) > self._clock()

    def note_attempt(self, vendor: str, latency_ms: float, error: ProviderError | None = None) -> None:
        """What one call to ``vendor`` says about its load."""
        if error is not None:
            # A 429 is throttled with or without a Retry-After (which is all the breaker counts).
            if isinstance(error, ProviderThrottled) or breaker_outcome(error) == "throttled":
                self._mark(vendor, "HTTP 429", max(self.policy.hold_s, error.retry_after or 0.0))
            return
        with self._lock:
            samples = self._latencies.setdefault(vendor, deque(maxlen=self.policy.window))
            samples.append(latency_ms / 1000)
            slow = (
                len(samples) >= self.policy.min_samples and statistics.median(samples) > self.policy.latency_s
            )
            median = statistics.median(samples)
        if slow:
            self._mark(vendor, f"median latency {median:.1f} s", self.policy.hold_s)

    def note_queue_position(self, vendor: str, position: int) -> None:
        if position > self.policy.queue_position:
            self._mark(vendor, f"queue position {position}", self.policy.hold_s)

    def on_progressed(self, event: GenerationProgressed) -> None:
        """Handler of ``GenerationProgressed``: a job's place in its provider's queue."""
        job = event.generation.provider_job
        position = event.progress.provider_queue_position
        if job is not None and position is not None:
            self.note_queue_position(job.provider, position)

    def _mark(self, vendor: str, reason: str, hold_s: float) -> None:
        now = self._clock()
        with self._lock:
            was = self._until.get(vendor, 0.0) > now
            self._until[vendor] = max(self._until.get(vendor, 0.0), now + hold_s)
            self._latencies.pop(vendor, None)  # judge the recovery on fresh calls only
        if not was:
            log.warning(
                "%s is saturated (%s): new work goes to %s first for %.0f s",
                vendor,
                reason,
                self.policy.provider,
                hold_s,
                extra={"provider": vendor, "burst_provider": self.policy.provider, "reason": reason},
            )


@dataclass(frozen=True)
class BurstLane:
    """The router's burst lane: what it knows of the vendors' load, and whether the spend allows
    a second vendor now (:class:`BurstSpendGuard`)."""

    saturation: Saturation
    allowed: Callable[[], bool] = lambda: True


class BurstSpendGuard:
    """True while today's spend is under ``budget_share`` of the daily budget (cached ``ttl_s``)."""

    def __init__(
        self,
        counters: Counters,
        budget: Budget,
        budget_share: float,
        *,
        wall_clock: Callable[[], float] = time.time,
        ttl_s: float = 15.0,
    ) -> None:
        self._counters = counters
        self._limit = budget.daily_usd * budget_share
        self._wall_clock = wall_clock
        self._ttl_s = ttl_s
        self._cached: tuple[float, bool] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        now = self._wall_clock()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < self._ttl_s:
                return self._cached[1]
        try:
            day_key, _ = spend_keys(now)
            (spent,) = self._counters.values([day_key])
            allowed = spent < self._limit
        except StoreError:
            log.warning("spend unreadable: no burst routing until it is", exc_info=True)
            allowed = False  # never pay a second vendor blind
        with self._lock:
            self._cached = (now, allowed)
        return allowed
