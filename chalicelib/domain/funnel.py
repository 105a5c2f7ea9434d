"""The conversion funnel (docs/contract.md, "Product analytics"): the steps a visitor takes in the
picker, counted per UTC day by name only. Nothing personal is kept: no identity, no IP, no text,
only how many times each step happened that day (the counters of ``funnel:{YYYYMMDD}:{step}``)."""

from __future__ import annotations

from typing import Literal

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


def conversion_rates(counts: dict[str, int]) -> dict[str, float | None]:
    """The funnel's conversion rates from one period's counts."""
    return {
        name: round(counts[top] / counts[bottom], 4) if counts.get(bottom) else None
        for name, top, bottom in CONVERSIONS
    }
