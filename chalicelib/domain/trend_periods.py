"""The calendar of the dashboard's trends: the last 30 UTC days and the last 24 UTC hours, from the
stats counters (services/operations/counters.py) kept per day and per hour. Each counter expires once past its
window (a day's after 32 days, an hour's after 26 hours): nothing grows without bound. No pydantic
here: the counters on the request path import it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

TREND_DAYS = 30
TREND_HOURS = 24
DAY_TREND_TTL_S = (TREND_DAYS + 2) * 86400
HOUR_TREND_TTL_S = (TREND_HOURS + 2) * 3600
# Admission outcomes that refused a request (and content_rejected: prompt moderation).
REFUSALS: tuple[str, ...] = ("quota_exceeded", "rate_limited", "budget_exhausted", "content_rejected")


def hour_id(now: float) -> str:
    """The UTC hour of ``now``: ``YYYYMMDDHH``."""
    return f"{datetime.fromtimestamp(now, UTC):%Y%m%d%H}"


def hour_stats_prefix(now: float) -> str:
    """The key prefix of this hour's stats counters (the same names as a day's)."""
    return f"stats:hour:{hour_id(now)}:"


def hour_spend_key(now: float) -> str:
    """This hour's spend counter (USD)."""
    return f"spend:hour:{hour_id(now)}"


def last_days(now: float, count: int = TREND_DAYS) -> list[str]:
    """The last ``count`` UTC days (``YYYYMMDD``), oldest first, today last."""
    today = datetime.fromtimestamp(now, UTC)
    return [f"{today - timedelta(days=back):%Y%m%d}" for back in range(count - 1, -1, -1)]


def last_hours(now: float, count: int = TREND_HOURS) -> list[str]:
    """The last ``count`` UTC hours (``YYYYMMDDHH``), oldest first, this hour last."""
    this_hour = datetime.fromtimestamp(now, UTC)
    return [f"{this_hour - timedelta(hours=back):%Y%m%d%H}" for back in range(count - 1, -1, -1)]


def label(period_id: str) -> str:
    """``YYYYMMDD`` -> ``YYYY-MM-DD``; ``YYYYMMDDHH`` -> ``YYYY-MM-DDTHH:00Z``."""
    day = f"{period_id[:4]}-{period_id[4:6]}-{period_id[6:8]}"
    return day if len(period_id) == 8 else f"{day}T{period_id[8:10]}:00Z"
