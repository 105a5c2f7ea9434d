"""The conversion funnel (docs/contract.md, "Product analytics"): the steps a visitor takes in the
picker, counted per UTC day by name only. Nothing personal is kept: no identity, no IP, no text,
only how many times each step happened that day (the counters of ``funnel:{YYYYMMDD}:{step}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.domain.models import ApiModel, StrictModel

# In funnel order: each conversion rate below is a later step against an earlier one.
FUNNEL_STEPS: tuple[str, ...] = (
    "gallery_viewed",
    "style_chosen",
    "custom_started",
    "photo_started",
    "quota_reached",
    "upgrade_shown",
    "upgrade_clicked",
    "avatar_chosen",
)
EventName = Literal[
    "gallery_viewed",
    "style_chosen",
    "custom_started",
    "photo_started",
    "quota_reached",
    "upgrade_shown",
    "upgrade_clicked",
    "avatar_chosen",
]
MAX_EVENTS = 20
FUNNEL_DAYS = 30  # what the admin stats report
FUNNEL_TTL_S = (FUNNEL_DAYS + 2) * 86400  # a day's counters expire once past the report's window
# The rates the dashboard shows: (name, numerator step, denominator step).
CONVERSIONS: tuple[tuple[str, str, str], ...] = (
    ("chose_avatar", "avatar_chosen", "gallery_viewed"),
    ("started_custom", "custom_started", "gallery_viewed"),
    ("started_photo", "photo_started", "gallery_viewed"),
    ("reached_quota", "quota_reached", "custom_started"),
    ("clicked_upgrade", "upgrade_clicked", "upgrade_shown"),
)


def funnel_key(day_id: str, step: str) -> str:
    """The counter of ``step`` on the UTC day ``day_id`` (YYYYMMDD)."""
    return f"funnel:{day_id}:{step}"


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


def conversion_rates(counts: dict[str, int]) -> dict[str, float | None]:
    """The funnel's conversion rates from one period's counts."""
    return {
        name: round(counts[top] / counts[bottom], 4) if counts.get(bottom) else None
        for name, top, bottom in CONVERSIONS
    }
