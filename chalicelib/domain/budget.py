"""The spend guard: the budget's limits per tier, and the alerts at its thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Period = Literal["day", "month"]
DEGRADED_FIRST = ("anonymous", "free")  # tiers that fall back to the gallery at 100 % of budget


@dataclass(frozen=True)
class Budget:
    daily_usd: float = 25.0
    monthly_usd: float = 500.0
    hard_cap_ratio: float = 1.5

    def limits_for(self, tier: str) -> tuple[float, float]:
        """The tier's daily and monthly spend caps (USD)."""
        ratio = 1.0 if tier in DEGRADED_FIRST else self.hard_cap_ratio
        return self.daily_usd * ratio, self.monthly_usd * ratio


@dataclass(frozen=True)
class BudgetAlert:
    period: Period
    period_id: str  # YYYYMMDD or YYYYMM (UTC)
    threshold: int  # percent
    spent_usd: float
    budget_usd: float

    @property
    def state(self) -> str:
        return "exhausted" if self.threshold >= 100 else "warning" if self.threshold >= 80 else "notice"

    def payload(self, now: float) -> dict[str, Any]:
        """The webhook body, in the Standard Webhooks payload shape (type, timestamp, data)."""
        return {
            "type": "budget.threshold_reached",
            "timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": {
                "period": self.period,
                "period_id": self.period_id,
                "threshold_percent": self.threshold,
                "state": self.state,
                "spent_usd": round(self.spent_usd, 6),
                "budget_usd": self.budget_usd,
            },
        }

    def subject(self) -> str:
        what = "daily" if self.period == "day" else "monthly"
        return f"avatarflow: {self.threshold}% of the {what} budget reached"
