"""The bodies of ``POST /v1/events`` and the funnel part of ``GET /v1/admin/stats`` (the funnel's
steps and rates themselves: ``domain/funnel.py``)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.domain.funnel import FUNNEL_DAYS, FUNNEL_STEPS, MAX_EVENTS, EventName
from chalicelib.schemas.models import ApiModel, StrictModel


class ProductEvent(StrictModel):
    """One step of the funnel, by name only."""

    name: EventName = Field(description="The step: " + ", ".join(FUNNEL_STEPS) + ".")


class ProductEvents(StrictModel):
    """``POST /v1/events``: a batch of steps (the picker sends them together)."""

    events: list[ProductEvent] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsAccepted(ApiModel):
    accepted: int = Field(description="How many events were counted (all of them).")


class FunnelDay(ApiModel):
    day: str = Field(description="The UTC day (YYYY-MM-DD).")
    counts: dict[str, int] = Field(description="How many times each step happened that day.")
    conversion: dict[str, float | None] = Field(
        description="chose_avatar = avatar_chosen / gallery_viewed, started_custom = custom_started / "
        "gallery_viewed, started_photo = photo_started / gallery_viewed, reached_quota = quota_reached / "
        "custom_started, clicked_upgrade = upgrade_clicked / upgrade_shown; null without the denominator."
    )


class FunnelStats(ApiModel):
    steps: list[str] = Field(description="The steps, in funnel order.")
    days: list[FunnelDay] = Field(description=f"The last {FUNNEL_DAYS} UTC days, oldest first, today last.")
    totals: FunnelDay = Field(description="The same over those days (its day is the first one's).")
