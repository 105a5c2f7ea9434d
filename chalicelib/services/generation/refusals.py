"""Refused prompts, counted per identity and clock hour: the refusal limit.

An identity whose prompts moderation refused ``limit`` times in an hour gets 429 ``rate_limited``
on every generation request for the rest of that hour: a flood of refused prompts costs store
writes and probes the list. Counting costs one store call, on the refusal path only, the same call
that counts the refusal in the admin stats (the admission outcome ``content_rejected``). The check
costs none: the admit script reads the counter in the call every request makes anyway
(``admit.lua``), and a refused prompt learns its count from the call that counts it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chalicelib.domain.periods import stats_prefixes
from chalicelib.domain.trend_periods import hour_stats_prefix
from chalicelib.ports import Clock, Counter, Counters, StoreError
from chalicelib.services.operations.counters import DAY_STATS_TTL, HOUR_STATS_TTL, MONTH_STATS_TTL

log = logging.getLogger(__name__)

# Past the hour's end the counter is no longer read (the next hour has its own): a minute's margin.
_TTL_MARGIN_S = 60


@dataclass(frozen=True)
class RefusalWindow:
    """The counter of an identity's refused prompts in the hour that holds ``now``."""

    key: str
    reset_at: int  # the hour's end, epoch seconds

    @classmethod
    def of(cls, identity_key: str, now: float) -> RefusalWindow:
        hour = int(now) // 3600
        return cls(f"refused:{identity_key}:{hour}", (hour + 1) * 3600)


class Refusals:
    """Counts refused prompts (``Admission`` calls it where moderation refuses one)."""

    def __init__(self, counters: Counters, clock: Clock, limit: int) -> None:
        self._counters = counters
        self._clock = clock
        self.limit = limit  # refused prompts an hour before every request is refused; 0: no limit

    def window(self, identity_key: str) -> RefusalWindow:
        return RefusalWindow.of(identity_key, self._clock.time())

    def record(self, identity_key: str) -> tuple[int, RefusalWindow]:
        """Count one refused prompt of this identity, and the admin stats' ``content_rejected``,
        in one store call. Returns the identity's refused prompts this hour, this one included
        (0 where the store could not be reached: the prompt is refused all the same)."""
        now = self._clock.time()
        window = RefusalWindow.of(identity_key, now)
        day, month = stats_prefixes(now)
        try:
            totals = self._counters.add_and_read(
                [
                    Counter(window.key, 1, max(1, window.reset_at - int(now)) + _TTL_MARGIN_S),
                    Counter(f"{day}admit:content_rejected", 1, DAY_STATS_TTL),
                    Counter(f"{month}admit:content_rejected", 1, MONTH_STATS_TTL),
                    Counter(f"{hour_stats_prefix(now)}admit:content_rejected", 1, HOUR_STATS_TTL),
                ]
            )
        except StoreError:
            log.warning("a refused prompt could not be counted: the store is unavailable")
            return 0, window
        return int(totals[0]), window

    def exceeded(self, count: int) -> bool:
        """True when ``count`` refused prompts are past the limit (the next request is refused)."""
        return self.limit > 0 and count > self.limit
