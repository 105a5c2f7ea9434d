"""Budget alerts: at 50 %, 80 % and 100 % of the daily and monthly budget, once each.

Checked after each paid job (a handler of :class:`SpendRecorded`, in a background thread: never
on a request's time) and by the hourly schedule (``chalicelib.workers.schedules``), which also
catches what a frozen Lambda left unchecked. Each (period, threshold) fires once: the first checker
to ``SET NX`` its marker sends it. A delivery that fails everywhere turns the marker into a short
retry marker, so that a later check tries again a few minutes on.

Channels (``adapters/outbound/alerts.py``): a Standard Webhooks signed POST to
``AVATARFLOW_BUDGET_ALERT_URL`` and/or an SNS topic. Every alert is also a log line on
``avatarflow.alerts``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain.budget import Budget, BudgetAlert, Period
from chalicelib.domain.events import SpendRecorded
from chalicelib.domain.periods import period_ids, spend_keys
from chalicelib.ports import AlertChannel, AlertDeliveryError, Clock, Counters, KeyValueStore

__all__ = ["THRESHOLDS", "BudgetAlerts"]

log = logging.getLogger(__name__)
alerts_log = logging.getLogger("avatarflow.alerts")

THRESHOLDS: tuple[int, ...] = (50, 80, 100)
MARKER_TTL = {"day": 3 * 86400, "month": 40 * 86400}
RETRY_AFTER_FAILURE_S = 300
SENDING_TTL_S = 120


class BudgetAlerts:
    """Fires each budget threshold once per period, to every configured channel."""

    def __init__(
        self,
        *,
        counters: Counters,
        kv: KeyValueStore,
        budget: Budget,
        channels: Sequence[AlertChannel] = (),
        clock: Clock,
    ) -> None:
        self._counters = counters
        self._kv = kv
        self._budget = budget
        self._channels = list(channels)
        self._clock = clock
        self._lock = threading.Lock()
        self._queued = False
        self._executor: ThreadPoolExecutor | None = None

    @property
    def channels(self) -> list[str]:
        return [c.name for c in self._channels]

    def check(self) -> list[BudgetAlert]:
        """Compare today's and this month's spend with the budget; send what is newly reached."""
        now = self._clock.time()
        day_key, month_key = spend_keys(now)
        day_id, month_id = period_ids(now)
        spent_day, spent_month = self._counters.values([day_key, month_key])
        fired: list[BudgetAlert] = []
        periods: tuple[tuple[Period, str, float, float], ...] = (
            ("day", day_id, spent_day, self._budget.daily_usd),
            ("month", month_id, spent_month, self._budget.monthly_usd),
        )
        for period, period_id, spent, budget in periods:
            if budget <= 0:
                continue
            for threshold in THRESHOLDS:
                if spent * 100 < budget * threshold - 1e-9:
                    break
                marker = f"alert:budget:{period}:{period_id}:{threshold}"
                # Held briefly while sending: a checker that dies mid-send does not lose the alert.
                if not self._kv.set_once(marker, "sending", SENDING_TTL_S):
                    continue  # already sent (or being sent) by someone
                alert = BudgetAlert(period, period_id, threshold, spent, budget)
                if self._deliver(alert, now):
                    self._kv.set(marker, "sent", MARKER_TTL[period])
                    fired.append(alert)
                else:
                    # Let a later check (the next costly job, the hourly schedule) try again.
                    self._kv.set(marker, "failed", RETRY_AFTER_FAILURE_S)
        return fired

    def _deliver(self, alert: BudgetAlert, now: float) -> bool:
        level = logging.ERROR if alert.threshold >= 100 else logging.WARNING
        alerts_log.log(
            level,
            "%s (%.2f of %.2f USD)",
            alert.subject(),
            alert.spent_usd,
            alert.budget_usd,
            extra={"alert": "budget", "period": alert.period, "threshold_percent": alert.threshold},
        )
        if not self._channels:
            return True  # the log line is the alert
        msg_id = f"msg_budget_{alert.period}_{alert.period_id}_{alert.threshold}_{secrets.token_hex(4)}"
        body = json.dumps(alert.payload(now), separators=(",", ":")).encode()
        delivered = False
        for channel in self._channels:
            try:
                channel.send(alert, body, msg_id)
                delivered = True
            except AlertDeliveryError as exc:
                alerts_log.error(
                    "budget alert not delivered: %s",
                    exc,
                    extra={"alert": "budget_delivery", "channel": channel.name},
                )
            except Exception:
                log.exception("budget alert channel %s crashed", channel.name)
        return delivered

    # -- in the background, after a costly job -------------------------------------------------
    def on_spend(self, event: SpendRecorded) -> None:
        """Handler of :class:`SpendRecorded`: check the thresholds soon, off the request path."""
        self.check_soon()

    def check_soon(self) -> None:
        """Run :meth:`check` in a background thread; a check already waiting covers this one."""
        with self._lock:
            if self._queued:
                return
            self._queued = True
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="avatarflow-alerts")
            executor = self._executor
        executor.submit(self._background_check)

    def _background_check(self) -> None:
        with self._lock:
            self._queued = False
        try:
            self.check()
        except Exception:
            log.warning("budget check failed; the hourly schedule will check again", exc_info=True)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the background checks queued so far are done (tests, shutdown)."""
        with self._lock:
            executor = self._executor
        if executor is None:
            return True
        try:
            executor.submit(lambda: None).result(timeout=timeout)
        except TimeoutError:
            return False
        return True
