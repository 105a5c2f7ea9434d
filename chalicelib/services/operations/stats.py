"""Admin stats: from the counters kept as the work happens, read back in one MGET.

No scan of generation records: the admit script counts each outcome, the finish script adds each
finished job's status, tier, provider outcome, latency bucket and cost (``services.counters``).
Provider error rates are job-level: a provider counts an error in a job that failed (each
provider the router tried and that failed); a failover that then succeeded elsewhere shows in
that provider's circuit breaker, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Literal

from chalicelib.domain.budget import Budget
from chalicelib.domain.generation import iso
from chalicelib.domain.periods import period_ids, spend_keys, stats_prefixes
from chalicelib.domain.projection import month_projection
from chalicelib.ports import Clock, Counters
from chalicelib.schemas.admin import (
    AdminStats,
    BudgetPeriod,
    BudgetStats,
    GenerationCounts,
    LatencyStats,
    PeriodStats,
    ProviderStats,
    SpendProjection,
    SpendStats,
)
from chalicelib.schemas.trends import Trends
from chalicelib.services.operations.counters import ADMIT_OUTCOMES, LATENCY_BUCKETS_MS, percentile
from chalicelib.services.operations.experiment_stats import experiment_keys, experiment_stats
from chalicelib.services.operations.trends import funnel_from, plan_funnel, plan_trend, trend_from

# percentile lives beside the buckets it reads (services.counters): the ETAs (services.latency) use
# it in every container without importing this admin-only module and its response models.
__all__ = ["KNOWN_PROVIDERS", "StatsService", "budget_state", "percentile"]

KNOWN_PROVIDERS: tuple[str, ...] = (
    "fal",
    "replicate",
    "together",
    "runpod",
    "openai",
    "huggingface",
    "procedural",
)
STATUSES = ("succeeded", "failed")
BUCKET_LABELS: tuple[str, ...] = (*(f"le{b}" for b in LATENCY_BUCKETS_MS), "inf")
BudgetState = Literal["ok", "warning", "exhausted"]
WARNING_RATIO = 0.8


def budget_state(spent: float, limit: float) -> BudgetState:
    if limit <= 0:
        return "ok"
    ratio = spent / limit
    return "exhausted" if ratio >= 1.0 else "warning" if ratio >= WARNING_RATIO else "ok"


class _Keys:
    """Collects counter keys and remembers where each one's value lands in the MGET reply."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def add(self, key: str) -> int:
        self.keys.append(key)
        return len(self.keys) - 1


class StatsService:
    """Builds :class:`AdminStats` from one store call."""

    def __init__(
        self,
        counters: Counters,
        *,
        tiers: Iterable[str],
        budget: Budget,
        providers: Iterable[str] = (),
        clock: Clock,
        experiment_share: float = 0.0,
    ) -> None:
        self._counters = counters
        self._tiers = tuple(tiers)
        self._budget = budget
        self._providers = tuple(dict.fromkeys((*KNOWN_PROVIDERS, *providers)))
        self._configured = tuple(providers)  # the trends' latency series: only these (fewer keys)
        self._clock = clock
        self._experiment_share = experiment_share

    def stats(self) -> AdminStats:
        now = self._clock.time()
        keys = _Keys()
        day_prefix, month_prefix = stats_prefixes(now)
        day_spend, month_spend = spend_keys(now)
        plans = [
            self._plan(keys, day_prefix, day_spend),
            self._plan(keys, month_prefix, month_spend),
        ]
        experiment = experiment_keys(keys.add)  # in the same MGET
        funnel = plan_funnel(keys.add, now)  # ... and the funnel and the trends too
        trend_providers = (
            (*self._configured, "procedural") if "procedural" not in self._configured else self._configured
        )
        series = [
            plan_trend(keys.add, now, window=w, tiers=self._tiers, providers=trend_providers)
            for w in ("30d", "24h")
        ]
        values = self._counters.values(keys.keys)
        day_id, month_id = period_ids(now)
        today = self._period("day", f"{day_id[:4]}-{day_id[4:6]}-{day_id[6:]}", plans[0], values)
        month = self._period("month", f"{month_id[:4]}-{month_id[4:]}", plans[1], values)
        daily = self._budget_period(today.spend.total_usd, self._budget.daily_usd)
        monthly = self._budget_period(month.spend.total_usd, self._budget.monthly_usd)
        states: list[BudgetState] = [daily.state, monthly.state]
        overall: BudgetState = (
            "exhausted" if "exhausted" in states else "warning" if "warning" in states else "ok"
        )
        return AdminStats(
            generated_at=iso(now),
            today=today,
            month=month,
            budget=BudgetStats(
                daily=daily, monthly=monthly, state=overall, hard_cap_ratio=self._budget.hard_cap_ratio
            ),
            experiments=experiment_stats(self._experiment_share, experiment, values, percentile),
            projection=self._projection(month.spend.total_usd, now),
            funnel=funnel_from(funnel, values),
            trends=Trends(
                days=trend_from(series[0], values, self._budget.daily_usd),
                hours=trend_from(series[1], values, self._budget.daily_usd),
            ),
        )

    def _projection(self, spent_month: float, now: float) -> SpendProjection:
        projected = month_projection(spent_month, now, self._budget.monthly_usd)
        return SpendProjection(**asdict(projected))

    def _plan(self, keys: _Keys, prefix: str, spend_key: str) -> dict[str, dict[str, int]]:
        plan: dict[str, dict[str, int]] = {
            "admit": {o: keys.add(f"{prefix}admit:{o}") for o in ADMIT_OUTCOMES},
            "status": {s: keys.add(f"{prefix}status:{s}") for s in STATUSES},
            "tier": {t: keys.add(f"{prefix}tier:{t}") for t in self._tiers},
            "ok": {p: keys.add(f"{prefix}provider:{p}:ok") for p in self._providers},
            "error": {p: keys.add(f"{prefix}provider:{p}:error") for p in self._providers},
            "spend": {p: keys.add(f"{spend_key}:provider:{p}") for p in self._providers},
            "total": {"spend": keys.add(spend_key)},
        }
        for provider in self._providers:
            plan[f"latency:{provider}"] = {
                label: keys.add(f"{prefix}latency:{provider}:{label}") for label in BUCKET_LABELS
            }
        return plan

    def _period(
        self,
        period: Literal["day", "month"],
        period_id: str,
        plan: dict[str, dict[str, int]],
        values: Sequence[float],
    ) -> PeriodStats:
        def count(group: str, name: str) -> int:
            return int(values[plan[group][name]])

        admissions = {o: count("admit", o) for o in ADMIT_OUTCOMES}
        hits = admissions["cached"] + admissions["joined"]
        served = hits + admissions["created"]
        providers: dict[str, ProviderStats] = {}
        for provider in self._providers:
            succeeded, errors = count("ok", provider), count("error", provider)
            buckets = [count(f"latency:{provider}", label) for label in BUCKET_LABELS]
            if not (succeeded or errors or values[plan["spend"][provider]]):
                continue
            providers[provider] = ProviderStats(
                succeeded=succeeded,
                errors=errors,
                error_rate=round(errors / (succeeded + errors), 4) if succeeded + errors else None,
                latency=LatencyStats(
                    p50_ms=percentile(buckets, 0.5), p95_ms=percentile(buckets, 0.95), samples=sum(buckets)
                ),
            )
        return PeriodStats(
            period=period,
            id=period_id,
            admissions=admissions,
            cache_hit_ratio=round(hits / served, 4) if served else None,
            generations=GenerationCounts(
                by_status={s: count("status", s) for s in STATUSES},
                by_tier={t: count("tier", t) for t in self._tiers},
                by_provider={p: s.succeeded for p, s in providers.items()},
            ),
            providers=providers,
            spend=SpendStats(
                total_usd=round(values[plan["total"]["spend"]], 6),
                by_provider={p: round(values[i], 6) for p, i in plan["spend"].items() if values[i]},
            ),
        )

    @staticmethod
    def _budget_period(spent: float, limit: float) -> BudgetPeriod:
        return BudgetPeriod(
            limit_usd=limit,
            spent_usd=round(spent, 6),
            ratio=round(spent / limit, 4) if limit > 0 else None,
            state=budget_state(spent, limit),
        )
