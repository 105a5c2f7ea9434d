"""Scheduled operations: the hourly budget check (alerts at 50 / 80 / 100 % of the budget).

The same check runs in the background after every finished job that had a cost; this one
catches whatever a frozen or recycled Lambda left unchecked, and retries failed deliveries.
"""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import Blueprint, Rate

from chalicelib.bootstrap import get_container

__all__ = ["budget_check", "schedules"]

log = logging.getLogger(__name__)

schedules = Blueprint(__name__)


@schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="budget_check",
    description="Send the budget alerts that are due (50 / 80 / 100 % of the daily and monthly budget).",
)
def budget_check(event: Any) -> dict[str, Any]:
    fired = get_container().operations.budget_alerts.check()
    return {"fired": [{"period": a.period, "threshold_percent": a.threshold} for a in fired]}
