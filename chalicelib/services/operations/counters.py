"""Names of the operational counters, kept as the work happens (never by scanning records).

Every counter is a plain string key added to in a call the work makes anyway: admissions inside
``admit.lua`` (one INCR per outcome), finished jobs in the counters of ``finish.lua``. The admin
stats read them back with one MGET. Days and months are UTC, like the spend counters.

    stats:{day|month}:{period}:admit:{outcome}        every admit outcome (created, cached, ...),
                                                      and content_rejected (services/generation/refusals.py)
    stats:{day|month}:{period}:status:{status}        finished jobs: succeeded / failed
    stats:{day|month}:{period}:tier:{tier}            finished jobs by tier
    stats:{day|month}:{period}:provider:{name}:ok     jobs a provider made
    stats:{day|month}:{period}:provider:{name}:error  jobs in which a provider failed
    stats:{day|month}:{period}:latency:{name}:{bucket} provider latency histogram (fixed buckets)
    stats:day:{day}:latencyq:{quality}:{bucket}       the same per quality, today (ETAs, progress)
    stats:hour:{YYYYMMDDHH}:...                       the day's names, per UTC hour (the 24-hour trends)

A day's counters live 32 days (the dashboard's 30-day trends), an hour's 26 hours, a month's 40
days: each expires once past the window that reads it (domain/trend_periods.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from chalicelib.domain.periods import stats_prefixes
from chalicelib.domain.trend_periods import DAY_TREND_TTL_S, HOUR_TREND_TTL_S, hour_stats_prefix
from chalicelib.ports import Counter

__all__ = [
    "ADMIT_OUTCOMES",
    "DAY_STATS_TTL",
    "HOUR_STATS_TTL",
    "LATENCY_BUCKETS_MS",
    "MONTH_STATS_TTL",
    "bucket_label",
    "job_counters",
    "latency_quality_keys",
    "percentile",
]

DAY_STATS_TTL = DAY_TREND_TTL_S
HOUR_STATS_TTL = HOUR_TREND_TTL_S
MONTH_STATS_TTL = 40 * 86400
# Upper bounds (ms) of the latency buckets; a last, open bucket holds everything slower.
LATENCY_BUCKETS_MS: tuple[int, ...] = (250, 500, 1000, 2000, 4000, 8000, 15000, 30000, 60000)
ADMIT_OUTCOMES: tuple[str, ...] = (
    "created",
    "cached",
    "joined",
    "replayed",
    "quota_exceeded",
    "rate_limited",
    "budget_exhausted",
    "idempotency_conflict",
    "content_rejected",  # refused by prompt moderation before the admit script (never charged)
)


def percentile(counts: Sequence[int], q: float) -> float | None:
    """The upper bound (ms) of the histogram bucket that holds quantile ``q``; the open last
    bucket reports the last finite bound. None without samples."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return float(LATENCY_BUCKETS_MS[min(index, len(LATENCY_BUCKETS_MS) - 1)])
    return float(LATENCY_BUCKETS_MS[-1])


def bucket_label(latency_ms: float) -> str:
    """The histogram bucket of a latency: ``le250`` ... ``le60000``, or ``inf``."""
    if not math.isfinite(latency_ms):
        return "inf"
    for bound in LATENCY_BUCKETS_MS:
        if latency_ms <= bound:
            return f"le{bound}"
    return "inf"


def job_counters(
    now: float,
    *,
    status: str,
    tier: str,
    provider: str | None = None,
    latency_ms: float | None = None,
    failed_providers: Iterable[str] = (),
    quality: str | None = None,
) -> list[Counter]:
    """What one finished job adds to the stats counters of today and this month.

    ``provider`` made the image (succeeded jobs), with its ``latency_ms``; ``failed_providers``
    are the providers that failed while the job was tried (one entry per failure).
    """
    failed = list(failed_providers)
    counters: list[Counter] = []
    prefixes = (*stats_prefixes(now), hour_stats_prefix(now))
    for prefix, ttl in zip(prefixes, (DAY_STATS_TTL, MONTH_STATS_TTL, HOUR_STATS_TTL), strict=True):
        counters.append(Counter(f"{prefix}status:{status}", 1, ttl))
        counters.append(Counter(f"{prefix}tier:{tier or 'unknown'}", 1, ttl))
        if provider:
            counters.append(Counter(f"{prefix}provider:{provider}:ok", 1, ttl))
            if latency_ms is not None:
                counters.append(Counter(f"{prefix}latency:{provider}:{bucket_label(latency_ms)}", 1, ttl))
        for name in failed:
            counters.append(Counter(f"{prefix}provider:{name}:error", 1, ttl))
    if quality and provider and latency_ms is not None:
        # Per quality, today only: what the ETAs of open jobs are estimated from.
        day = stats_prefixes(now)[0]
        counters.append(Counter(f"{day}latencyq:{quality}:{bucket_label(latency_ms)}", 1, DAY_STATS_TTL))
    return counters


def latency_quality_keys(now: float, quality: str) -> list[str]:
    """Today's latency histogram of one quality, bucket by bucket (``LATENCY_BUCKETS_MS``, then inf)."""
    day = stats_prefixes(now)[0]
    return [f"{day}latencyq:{quality}:{label}" for label in (*(f"le{b}" for b in LATENCY_BUCKETS_MS), "inf")]
