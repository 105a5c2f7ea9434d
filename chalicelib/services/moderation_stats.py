"""Counts prompts refused by moderation in the admin stats, as the admission outcome
``content_rejected`` of today and this month (the admit script counts every other outcome)."""

from __future__ import annotations

from chalicelib.domain.events import PromptRefused
from chalicelib.domain.periods import stats_prefixes
from chalicelib.domain.trend_periods import hour_stats_prefix
from chalicelib.ports import Clock, Counter, Counters
from chalicelib.services.counters import DAY_STATS_TTL, HOUR_STATS_TTL, MONTH_STATS_TTL


class ModerationStats:
    """The handler of :class:`PromptRefused`: one store call per refusal."""

    def __init__(self, counters: Counters, clock: Clock) -> None:
        self._counters = counters
        self._clock = clock

    def on_refused(self, event: PromptRefused) -> None:
        day, month = stats_prefixes(self._clock.time())
        self._counters.add(
            [
                Counter(f"{day}admit:content_rejected", 1, DAY_STATS_TTL),
                Counter(f"{month}admit:content_rejected", 1, MONTH_STATS_TTL),
                Counter(f"{hour_stats_prefix(self._clock.time())}admit:content_rejected", 1, HOUR_STATS_TTL),
            ]
        )
