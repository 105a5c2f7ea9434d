"""The scheduled reaper: every few minutes, nothing left behind.

One pass (``services/generation/reap.py``, ``Reaper.reap``): polls the webhook-mode jobs whose webhook is late
(the polling fallback), ends every job still open past its deadline (one last poll, else failed
and refunded), and delivers the client callbacks that are due (retries with backoff). Bounded in
items and in time: it stops before the Lambda's own time runs out, and the next pass goes on.
``AVATARFLOW_REAPER_RATE_MINUTES`` (default 2) sets the schedule, read at import.
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, Rate

from chalicelib.bootstrap import get_container

__all__ = ["reap", "reaper"]

reaper = Blueprint(__name__)

_RATE_MINUTES = max(1, int(os.environ.get("AVATARFLOW_REAPER_RATE_MINUTES", "2") or 2))
_DEFAULT_BUDGET_S = 45.0


@reaper.schedule(
    Rate(_RATE_MINUTES, unit=Rate.MINUTES),
    name="reaper",
    description="Poll late webhook jobs, end jobs past their deadline (refund), retry client callbacks.",
)
def reap(event: Any) -> dict[str, Any]:
    return {"status": "ok", "counts": get_container().generation.reaper.reap(budget_s=_budget_s(event))}


def _budget_s(event: Any) -> float:
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return _DEFAULT_BUDGET_S
    try:
        return max(1.0, float(remaining()) / 1000 - 10.0)
    except (TypeError, ValueError):
        return _DEFAULT_BUDGET_S
