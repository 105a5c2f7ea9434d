"""BudgetAlerts: 50 %, 80 % and 100 % of the daily and monthly budget, each once per period, to every
channel; a delivery that fails everywhere is left for a later check."""

from __future__ import annotations

from chalicelib.domain.budget import Budget
from chalicelib.domain.events import SpendRecorded
from chalicelib.domain.periods import period_ids, spend_keys
from tests.unit.services.fakes import FakeAlertChannel, QuickProvider
from tests.unit.services.wiring import USER, Build, UseCases


def alerting(
    build: Build, *channels: FakeAlertChannel, daily: float = 10.0, monthly: float = 1000.0
) -> UseCases:
    return build(alert_channels=channels, budget=Budget(daily, monthly))


def spend(use_cases: UseCases, *, day: float = 0.0, month: float = 0.0) -> None:
    day_key, month_key = spend_keys(use_cases.clock.time())
    use_cases.store.kv.set(day_key, repr(day))
    use_cases.store.kv.set(month_key, repr(month))


def marker(use_cases: UseCases, period: str, threshold: int) -> str | None:
    day_id, month_id = period_ids(use_cases.clock.time())
    period_id = day_id if period == "day" else month_id
    return use_cases.store.kv.get(f"alert:budget:{period}:{period_id}:{threshold}")


def test_each_threshold_fires_once(build: Build) -> None:
    channel = FakeAlertChannel()
    use_cases = alerting(build, channel)
    spend(use_cases, day=4.99)
    assert use_cases.budget_alerts.check() == []
    spend(use_cases, day=5.0)
    assert [(a.period, a.threshold) for a in use_cases.budget_alerts.check()] == [("day", 50)]
    assert use_cases.budget_alerts.check() == []  # already sent
    spend(use_cases, day=8.5)
    assert [a.threshold for a in use_cases.budget_alerts.check()] == [80]
    spend(use_cases, day=12.0)
    (exhausted,) = use_cases.budget_alerts.check()
    assert (exhausted.threshold, exhausted.state, exhausted.spent_usd, exhausted.budget_usd) == (
        100,
        "exhausted",
        12.0,
        10.0,
    )
    assert use_cases.budget_alerts.check() == []
    assert [a.threshold for a in channel.sent] == [50, 80, 100]
    assert [marker(use_cases, "day", t) for t in (50, 80, 100)] == ["sent", "sent", "sent"]


def test_thresholds_crossed_at_once_each_fire(build: Build) -> None:
    channel = FakeAlertChannel()
    use_cases = alerting(build, channel)
    spend(use_cases, day=9.0)
    assert [a.threshold for a in use_cases.budget_alerts.check()] == [50, 80]
    assert marker(use_cases, "day", 100) is None


def test_the_monthly_budget_has_its_own_thresholds(build: Build) -> None:
    channel = FakeAlertChannel()
    use_cases = alerting(build, channel, daily=100.0, monthly=20.0)
    spend(use_cases, day=1.0, month=16.0)
    fired = use_cases.budget_alerts.check()
    assert [(a.period, a.threshold) for a in fired] == [("month", 50), ("month", 80)]
    assert fired[0].period_id == period_ids(use_cases.clock.time())[1]


def test_a_zero_budget_never_alerts(build: Build) -> None:
    channel = FakeAlertChannel()
    use_cases = alerting(build, channel, daily=0.0, monthly=0.0)
    spend(use_cases, day=50.0, month=50.0)
    assert use_cases.budget_alerts.check() == []
    assert channel.sent == []


def test_one_channel_delivering_is_enough(build: Build) -> None:
    down, up = FakeAlertChannel("sns", fails=True), FakeAlertChannel("webhook")
    use_cases = alerting(build, down, up)
    assert use_cases.budget_alerts.channels == ["sns", "webhook"]
    spend(use_cases, day=5.0)
    assert [a.threshold for a in use_cases.budget_alerts.check()] == [50]
    assert [a.threshold for a in up.sent] == [50]
    assert marker(use_cases, "day", 50) == "sent"


def test_a_delivery_failing_everywhere_is_left_for_a_later_check(build: Build) -> None:
    down = FakeAlertChannel("webhook", fails=True)
    use_cases = alerting(build, down)
    spend(use_cases, day=5.0)
    assert use_cases.budget_alerts.check() == []
    assert marker(use_cases, "day", 50) == "failed"  # a short marker: retried once it expires
    down.fails = False
    use_cases.store.kv.delete(f"alert:budget:day:{period_ids(use_cases.clock.time())[0]}:50")
    assert [a.threshold for a in use_cases.budget_alerts.check()] == [50]


def test_without_channels_the_log_line_is_the_alert(build: Build) -> None:
    use_cases = alerting(build)
    spend(use_cases, day=5.0)
    assert [a.threshold for a in use_cases.budget_alerts.check()] == [50]
    assert marker(use_cases, "day", 50) == "sent"


def test_a_paid_job_triggers_a_check_in_the_background(build: Build) -> None:
    channel = FakeAlertChannel()
    use_cases = build(
        provider=QuickProvider(name="fal", cost_usd=0.025),
        alert_channels=[channel],
        budget=Budget(0.04, 1000.0),
    )
    use_cases.bus.subscribe(SpendRecorded, use_cases.budget_alerts.on_spend)
    use_cases.run_job.run(use_cases.admit(USER).id)
    assert use_cases.budget_alerts.wait_idle(10)
    assert [(a.period, a.threshold) for a in channel.sent] == [("day", 50)]
    assert channel.sent[0].spent_usd == 0.025
