"""The month's spend projection: pace, projected total and the day the budget runs out."""

from __future__ import annotations

import calendar

import pytest

from chalicelib.domain.projection import month_projection


def at(year: int, month: int, day: int, hour: int = 0) -> float:
    return float(calendar.timegm((year, month, day, hour, 0, 0)))


def test_ten_days_in_at_ten_dollars_a_day() -> None:
    # 2026-11-11 00:00 UTC: 10 days elapsed, $100 spent -> $10/day; November has 30 days.
    projection = month_projection(100.0, at(2026, 11, 11), 500.0)
    assert projection.month == "2026-11"
    assert projection.pace_usd_per_day == pytest.approx(10.0)
    assert projection.projected_usd == pytest.approx(300.0)
    assert projection.spent_usd == 100.0 and projection.budget_usd == 500.0
    assert projection.runs_out_on is None  # $500 would take 50 days


def test_the_budget_runs_out_within_the_month() -> None:
    # 2026-11-11 00:00: $200 in 10 days -> $20/day; $500 lasts 25 days -> the 26th.
    projection = month_projection(200.0, at(2026, 11, 11), 500.0)
    assert projection.projected_usd == pytest.approx(600.0)
    assert projection.runs_out_on == "2026-11-26"


def test_a_budget_already_spent_ran_out_on_a_past_day() -> None:
    # 2026-02-21 00:00: $600 in 20 days -> $30/day; $500 was reached after 16.67 days: the 17th.
    projection = month_projection(600.0, at(2026, 2, 21), 500.0)
    assert projection.runs_out_on == "2026-02-17"
    assert projection.projected_usd == pytest.approx(30.0 * 28)


def test_the_first_hour_counts_as_an_hour() -> None:
    # One cent a second after midnight: paced over an hour, not a second ($0.24/day, not $864).
    projection = month_projection(0.01, at(2026, 12, 1) + 1, 500.0)
    assert projection.pace_usd_per_day == pytest.approx(0.24)
    assert projection.projected_usd == pytest.approx(0.24 * 31)
    assert projection.runs_out_on is None


@pytest.mark.parametrize("spent, budget", [(0.0, 500.0), (50.0, 0.0), (-1.0, 500.0)])
def test_no_spend_or_no_budget_never_runs_out(spent: float, budget: float) -> None:
    projection = month_projection(spent, at(2026, 11, 15, 12), budget)
    assert projection.runs_out_on is None
    assert projection.pace_usd_per_day >= 0.0 and projection.projected_usd >= 0.0


def test_a_tiny_pace_against_a_large_budget_never_runs_out() -> None:
    # Three tenths of a cent in 29 days against $500: 13,000 years on, past year 9999 (no overflow).
    projection = month_projection(0.003, at(2026, 11, 30, 2), 500.0)
    assert projection.runs_out_on is None
    assert projection.pace_usd_per_day == pytest.approx(0.003 / (29 + 2 / 24), abs=1e-6)
