"""The calendar of quotas, spend and stats: fixed UTC windows and the store keys named after them."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from chalicelib.domain.tiers import Window


def window_period(window: Window, now: float) -> tuple[str, int]:
    """(label, reset epoch) of the fixed window that contains ``now``: UTC hours, days, months."""
    if window.name == "month":
        moment = datetime.fromtimestamp(now, UTC)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        return f"m{moment.year}{moment.month:02d}", calendar.timegm((year, month, 1, 0, 0, 0))
    seconds = window.seconds
    period = int(now) // seconds
    return f"{window.name[0]}{period}", (period + 1) * seconds


def period_ids(now: float) -> tuple[str, str]:
    """Today's and this month's ids in UTC: ``YYYYMMDD``, ``YYYYMM``."""
    moment = datetime.fromtimestamp(now, UTC)
    return f"{moment:%Y%m%d}", f"{moment:%Y%m}"


def spend_keys(now: float) -> tuple[str, str]:
    """The store counters of today's and this month's spend (USD), in UTC."""
    day, month = period_ids(now)
    return f"spend:day:{day}", f"spend:month:{month}"


def stats_prefixes(now: float) -> tuple[str, str]:
    """The key prefixes of today's and this month's stats counters."""
    day, month = period_ids(now)
    return f"stats:day:{day}:", f"stats:month:{month}:"
