"""``POST /v1/events``: the picker's funnel steps, counted per UTC day (domain/funnel.py)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence
from datetime import UTC, datetime

from chalicelib.domain.errors import RateLimit, RateLimited
from chalicelib.domain.funnel import FUNNEL_TTL_S, funnel_key
from chalicelib.domain.identity import Identity
from chalicelib.ports import Clock, Counter
from chalicelib.ports.analytics import EventCounters, RateWindow


class RecordProductEvents:
    """Counts a batch of funnel steps: one store call, within the caller's general request rate
    (the same counter ``POST /v1/generations`` counts in), nothing personal kept.

    A batch is counted whole or not at all: validation (names, 1 to 20 events) happens before,
    and over the rate limit the script adds nothing (429 ``rate_limited``)."""

    def __init__(self, counters: EventCounters, *, rate_per_minute: int, clock: Clock) -> None:
        self._counters = counters
        self._rate_per_minute = rate_per_minute
        self._clock = clock

    def __call__(self, identity: Identity, names: Sequence[str]) -> int:
        """Count the steps; how many were counted."""
        now = self._clock.time()
        minute = int(now) // 60
        rate = RateWindow(f"rl:{identity.key}:{minute}", self._rate_per_minute, (minute + 1) * 60)
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        counters = [
            Counter(funnel_key(day, name), n, FUNNEL_TTL_S) for name, n in sorted(Tally(names).items())
        ]
        verdict = self._counters.add_within_rate(rate, counters)
        if not verdict.allowed:
            raise RateLimited(
                "Too many requests; slow down.",
                retry_after=max(1, rate.reset_at - int(now)),
                rate_limit=RateLimit(rate.limit, 0, rate.reset_at),
            )
        return len(names)
