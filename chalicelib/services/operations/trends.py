"""The admin stats' funnel and trends: which counters to read (in the stats' one MGET) and what
they add up to. ``plan_*`` registers keys with the caller's collector; ``*_from`` reads the values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chalicelib.domain.funnel import FUNNEL_DAYS, FUNNEL_STEPS, conversion_rates, funnel_key
from chalicelib.domain.trend_periods import REFUSALS, label, last_days, last_hours
from chalicelib.schemas.funnel import FunnelDay, FunnelStats
from chalicelib.schemas.trends import TrendPoint, TrendSeries
from chalicelib.services.operations.counters import LATENCY_BUCKETS_MS, percentile

AddKey = Callable[[str], int]
BUCKETS: tuple[str, ...] = (*(f"le{b}" for b in LATENCY_BUCKETS_MS), "inf")


@dataclass(frozen=True)
class FunnelPlan:
    days: list[str]
    index: dict[tuple[str, str], int]


def plan_funnel(add: AddKey, now: float) -> FunnelPlan:
    days = last_days(now, FUNNEL_DAYS)
    return FunnelPlan(days, {(d, s): add(funnel_key(d, s)) for d in days for s in FUNNEL_STEPS})


def funnel_from(plan: FunnelPlan, values: Sequence[float]) -> FunnelStats:
    days: list[FunnelDay] = []
    totals = dict.fromkeys(FUNNEL_STEPS, 0)
    for day in plan.days:
        counts = {s: int(values[plan.index[(day, s)]]) for s in FUNNEL_STEPS}
        for step, n in counts.items():
            totals[step] += n
        days.append(FunnelDay(day=label(day), counts=counts, conversion=conversion_rates(counts)))
    return FunnelStats(
        steps=list(FUNNEL_STEPS),
        days=days,
        totals=FunnelDay(day=label(plan.days[0]), counts=totals, conversion=conversion_rates(totals)),
    )


@dataclass(frozen=True)
class TrendPlan:
    window: str
    periods: list[str]
    index: dict[tuple[str, str], int]
    tiers: tuple[str, ...]
    providers: tuple[str, ...]


def plan_trend(
    add: AddKey, now: float, *, window: str, tiers: Sequence[str], providers: Sequence[str]
) -> TrendPlan:
    """The keys of one series: ``30d`` (days) or ``24h`` (hours)."""
    kind, periods = ("day", last_days(now)) if window == "30d" else ("hour", last_hours(now))
    index: dict[tuple[str, str], int] = {}
    for period in periods:
        prefix = f"stats:{kind}:{period}:"
        for tier in tiers:
            index[(period, f"tier:{tier}")] = add(f"{prefix}tier:{tier}")
        for outcome in ("created", "cached", "joined", *REFUSALS):
            index[(period, f"admit:{outcome}")] = add(f"{prefix}admit:{outcome}")
        for provider in providers:
            for bucket in BUCKETS:
                index[(period, f"latency:{provider}:{bucket}")] = add(f"{prefix}latency:{provider}:{bucket}")
        index[(period, "spend")] = add(f"spend:{kind}:{period}")
    return TrendPlan(window, periods, index, tuple(tiers), tuple(providers))


def trend_from(plan: TrendPlan, values: Sequence[float], daily_budget_usd: float) -> TrendSeries:
    points: list[TrendPoint] = []
    for period in plan.periods:

        def value(name: str, period: str = period) -> int:
            return int(values[plan.index[(period, name)]])

        hits = value("admit:cached") + value("admit:joined")
        served = hits + value("admit:created")
        points.append(
            TrendPoint(
                period=label(period),
                generations={t: value(f"tier:{t}") for t in plan.tiers},
                spend_usd=round(values[plan.index[(period, "spend")]], 6),
                cache_hit_ratio=round(hits / served, 4) if served else None,
                p95_ms={
                    p: percentile([value(f"latency:{p}:{b}") for b in BUCKETS], 0.95) for p in plan.providers
                },
                refusals={r: value(f"admit:{r}") for r in REFUSALS},
            )
        )
    return TrendSeries(window=plan.window, daily_budget_usd=daily_budget_usd, points=points)
