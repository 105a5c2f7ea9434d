"""The dashboard's trends as the admin stats report them (domain/trend_periods.py: the calendar)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.domain.trend_periods import REFUSALS
from chalicelib.schemas.models import ApiModel


class TrendPoint(ApiModel):
    period: str = Field(description="The UTC day (YYYY-MM-DD) or hour (YYYY-MM-DDTHH:00Z).")
    generations: dict[str, int] = Field(description="Finished generations by tier.")
    spend_usd: float = Field(description="Spend in this period.")
    cache_hit_ratio: float | None = Field(description="(cached + joined) / (cached + joined + created).")
    p95_ms: dict[str, float | None] = Field(description="p95 latency per provider (null: no sample).")
    refusals: dict[str, int] = Field(description="Refused requests by reason: " + ", ".join(REFUSALS) + ".")


class TrendSeries(ApiModel):
    window: str = Field(description="30d (by UTC day) or 24h (by UTC hour).")
    daily_budget_usd: float = Field(description="The daily budget the spend is drawn against.")
    points: list[TrendPoint] = Field(description="Oldest first; the current day or hour last.")


class Trends(ApiModel):
    days: TrendSeries
    hours: TrendSeries
