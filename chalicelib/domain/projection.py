"""This month's spend at the current pace: the projected total and the day the budget runs out.

A pure function of (spend so far this month, now, monthly budget), shown by ``GET /v1/admin/stats``.
The pace is the month's average so far (spend / time elapsed since the 1st, 00:00 UTC); the first
hour counts as a whole hour, so that a cent spent in the month's first second does not project
as a fortune.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY_S = 86_400.0
MIN_ELAPSED_S = 3_600.0  # the pace is never measured over less than an hour


@dataclass(frozen=True)
class MonthProjection:
    month: str  # YYYY-MM (UTC)
    spent_usd: float
    projected_usd: float
    budget_usd: float
    runs_out_on: str | None  # YYYY-MM-DD (UTC) within this month, else None
    pace_usd_per_day: float


def month_projection(spent_usd: float, now: float, budget_usd: float) -> MonthProjection:
    """Project this month's spend at its average pace so far.

    ``runs_out_on`` is the UTC day on which the spend reaches ``budget_usd`` at that pace, when that
    day falls within this month (a past day when the budget is already spent); None when it does
    not run out this month, when nothing was spent, or without a budget.
    """
    moment = datetime.fromtimestamp(now, UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days_in_month = calendar.monthrange(moment.year, moment.month)[1]
    spent = max(0.0, spent_usd)
    elapsed_s = max(MIN_ELAPSED_S, now - start.timestamp())
    pace = spent / elapsed_s * DAY_S
    runs_out_on: str | None = None
    if budget_usd > 0 and pace > 0:
        days_left = budget_usd / pace
        # Compared before it becomes a date: a tiny pace against a large budget is past any date.
        if days_left < days_in_month:
            runs_out_on = f"{start + timedelta(days=days_left):%Y-%m-%d}"
    return MonthProjection(
        month=f"{moment:%Y-%m}",
        spent_usd=round(spent, 6),
        projected_usd=round(pace * days_in_month, 6),
        budget_usd=budget_usd,
        runs_out_on=runs_out_on,
        pace_usd_per_day=round(pace, 6),
    )
