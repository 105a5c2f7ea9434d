"""The scheduled gallery refresh: daily by default (``AVATARFLOW_GALLERY_REFRESH_RATE_HOURS``).

The same job as ``POST /v1/admin/gallery/refresh``. It stops a little before the Lambda's
time runs out and publishes what it has; a run that fails is retried by EventBridge's async
invocation and resumes from its checkpoint.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from chalice.app import Blueprint, Rate

from chalicelib.bootstrap import get_container

__all__ = ["gallery_schedule", "refresh_gallery"]

log = logging.getLogger(__name__)

gallery_schedule = Blueprint(__name__)

# Read at import: the schedule expression is fixed when the app is deployed.
_RATE_HOURS = max(1, int(os.environ.get("AVATARFLOW_GALLERY_REFRESH_RATE_HOURS", "24") or 24))
_MARGIN_S = 10.0  # at most this is left to publish the gallery and save the cursors


@gallery_schedule.schedule(
    Rate(_RATE_HOURS, unit=Rate.HOURS),
    name="gallery_refresh",
    description="Add new items from the gallery sources, then publish the gallery once.",
)
def refresh_gallery(event: Any) -> dict[str, Any]:
    remaining_ms = _remaining_ms(event)
    remaining = None if remaining_ms is None else remaining_ms / 1000
    deadline = None if remaining is None else max(0.5, remaining - min(_MARGIN_S, remaining / 4))
    report = get_container().gallery.refresh.run(deadline_s=deadline)
    return {"status": report.status, "run_id": report.run_id, "added": report.added, "total": report.total}


def _remaining_ms(event: Any) -> float | None:
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        return float(remaining())
    except (TypeError, ValueError):
        return None
