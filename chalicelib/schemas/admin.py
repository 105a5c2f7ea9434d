"""Pydantic models of the operators' bodies (API keys, stats) and of the local stage's development
tokens: apart from ``models.py``, which a request's path loads, since few containers ever need them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from chalicelib.domain.text import first_forbidden
from chalicelib.schemas.fields import integral, printable
from chalicelib.schemas.funnel import FunnelStats
from chalicelib.schemas.models import ApiModel, StrictModel
from chalicelib.schemas.trends import Trends

Cap = Annotated[int, Field(ge=1, le=10_000_000), BeforeValidator(integral)]
MonthCap = Annotated[int, Field(ge=1, le=100_000_000), BeforeValidator(integral)]


class ApiKeyLimits(StrictModel):
    """An API key's own generation caps; a window left out is not capped."""

    hour: Cap | None = Field(None, description="Generations per UTC hour.")
    day: Cap | None = Field(None, description="Generations per UTC day.")
    month: MonthCap | None = Field(None, description="Generations per calendar month.")


class ApiKeyCreate(StrictModel):
    """``POST /v1/admin/api-keys``."""

    name: str = Field(
        min_length=1,
        max_length=100,
        description="Who the key is for (shown in listings): printable text, not only blanks.",
        json_schema_extra=printable(nonblank=True),
    )
    tier: Literal["enterprise"] = "enterprise"
    limits: ApiKeyLimits | None = None

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        if not value.strip() or first_forbidden(value) is not None:
            raise ValueError("name must be printable text")
        return value


class ApiKeyCreated(ApiModel):
    """The new key: ``key`` and ``webhook_secret`` are shown this once and never again."""

    id: str
    key: str = Field(description="Send as X-API-Key. Stored only as a keyed hash: keep it safe.")
    webhook_secret: str = Field(description="Standard Webhooks secret (whsec_...) that signs callbacks.")


class ApiKeyOut(ApiModel):
    id: str
    name: str
    tier: str
    limits: dict[str, int] = Field(description="The key's own caps by window (hour, day, month).")
    created_at: str
    revoked: bool
    prefix: str = Field(description="The first characters of the key, to recognise it.")


class ApiKeyList(ApiModel):
    items: list[ApiKeyOut]


class LatencyStats(ApiModel):
    p50_ms: float | None = Field(description="Upper bound of the histogram bucket holding the median.")
    p95_ms: float | None
    samples: int


class ProviderStats(ApiModel):
    succeeded: int = Field(description="Jobs this provider made.")
    errors: int = Field(description="Failed attempts in jobs that failed.")
    error_rate: float | None
    latency: LatencyStats


class GenerationCounts(ApiModel):
    by_status: dict[str, int] = Field(description="Finished jobs: succeeded, failed.")
    by_tier: dict[str, int]
    by_provider: dict[str, int]


class SpendStats(ApiModel):
    total_usd: float
    by_provider: dict[str, float]


class PeriodStats(ApiModel):
    period: Literal["day", "month"]
    id: str = Field(description="The UTC day (YYYY-MM-DD) or month (YYYY-MM).")
    admissions: dict[str, int] = Field(description="POST /v1/generations outcomes: created, cached, ...")
    cache_hit_ratio: float | None = Field(description="(cached + joined) / (cached + joined + created).")
    generations: GenerationCounts
    providers: dict[str, ProviderStats]
    spend: SpendStats


class BudgetPeriod(ApiModel):
    limit_usd: float
    spent_usd: float
    ratio: float | None
    state: Literal["ok", "warning", "exhausted"] = Field(
        description="warning from 80 %, exhausted from 100 %."
    )


class BudgetStats(ApiModel):
    daily: BudgetPeriod
    monthly: BudgetPeriod
    state: Literal["ok", "warning", "exhausted"]
    hard_cap_ratio: float = Field(description="Premium and enterprise stop at this multiple of the budget.")


class ExperimentArmStats(ApiModel):
    """One arm of an experiment: its succeeded generations (made by its model, not served from
    cache), how many their owners made their avatar, and at what cost and speed."""

    arm: Literal["schnell", "dev"]
    generations: int
    adopted: int
    adoption_rate: float | None = Field(description="adopted / generations; null without generations.")
    adoption_ci95: tuple[float, float] | None = Field(
        description="The 95 % Wilson score interval of the adoption rate; null without generations."
    )
    cost_usd: float
    cost_per_adopted_usd: float | None = Field(description="cost_usd / adopted; null before any adoption.")
    p50_latency_ms: float | None = Field(
        description="Median provider latency (upper bound of its histogram bucket); null without samples."
    )


class ExperimentStats(ApiModel):
    share: float = Field(ge=0, le=1, description="The share of users assigned to the dev arm (0: off).")
    arms: list[ExperimentArmStats]


class SpendProjection(ApiModel):
    """This month's spend at its average pace so far, against the monthly budget."""

    month: str = Field(description="The UTC month (YYYY-MM).")
    spent_usd: float = Field(description="Spent so far this month.")
    projected_usd: float = Field(description="The month's total at the pace so far.")
    budget_usd: float = Field(description="The monthly budget.")
    runs_out_on: str | None = Field(
        description="The UTC day (YYYY-MM-DD) the budget is spent at this pace, if within this month."
    )
    pace_usd_per_day: float = Field(description="This month's spend per day so far (at least one hour).")


class AdminStats(ApiModel):
    generated_at: str
    today: PeriodStats
    month: PeriodStats
    budget: BudgetStats
    experiments: dict[str, ExperimentStats] = Field(
        description="flux_dev_for_fast: FLUX.1 [dev] against [schnell] for the fast quality, since it started."
    )
    projection: SpendProjection
    funnel: FunnelStats = Field(
        description="The conversion funnel (POST /v1/events) per UTC day, last 30 days."
    )
    trends: Trends = Field(description="The last 30 days and the last 24 hours, for the dashboard's charts.")


# The local stage's development tokens.


class DevTokenRequest(StrictModel):
    """``POST /v1/dev/token`` (local stage only): a user identity without an identity provider."""

    sub: str = Field(min_length=1, max_length=256, description="The user id the token names.")
    tier: Literal["free", "premium", "enterprise"] = "free"


class DevToken(ApiModel):
    token: str = Field(description="An HS256 JWT for `Authorization: Bearer <token>`, valid 24 h.")
    expires_at: int = Field(description="Epoch seconds.")
