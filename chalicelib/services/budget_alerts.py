"""Budget alerts: at 50 %, 80 % and 100 % of the daily and monthly budget, once each.

Checked after each finished job that had a cost (in a background thread: never on a request's
time) and by the hourly schedule (``chalicelib.workers.schedules``), which also catches what a
frozen Lambda left unchecked. Each (period, threshold) fires once: the first checker to ``SET NX``
its marker sends it. A delivery that fails everywhere turns the marker into a short retry
marker, so that a later check tries again a few minutes on.

Channels: a Standard Webhooks signed POST to ``AVATARFLOW_BUDGET_ALERT_URL`` (secret
``AVATARFLOW_BUDGET_ALERT_SECRET``, ``whsec_<base64>``) and/or an SNS topic
(``AVATARFLOW_BUDGET_SNS_TOPIC_ARN``). Every alert is also a log line on ``avatarflow.alerts``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx

from chalicelib.ports import StateStore
from chalicelib.services.counters import period_ids
from chalicelib.services.generations import Budget, spend_keys

__all__ = [
    "THRESHOLDS",
    "AlertDeliveryError",
    "BudgetAlert",
    "BudgetAlerts",
    "SnsChannel",
    "WebhookChannel",
    "check_alert_url",
]

log = logging.getLogger(__name__)
alerts_log = logging.getLogger("avatarflow.alerts")

THRESHOLDS: tuple[int, ...] = (50, 80, 100)
MARKER_TTL = {"day": 3 * 86400, "month": 40 * 86400}
RETRY_AFTER_FAILURE_S = 300
SENDING_TTL_S = 120
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
USER_AGENT = "avatarflow-alerts/1.0"

Period = Literal["day", "month"]


class AlertDeliveryError(Exception):
    """A channel could not deliver an alert (after its own retries)."""


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


class AlertChannel(Protocol):
    name: str

    def send(self, alert: BudgetAlert, body: bytes, msg_id: str) -> None:
        """Deliver or raise :class:`AlertDeliveryError`."""
        ...


def check_alert_url(url: str) -> None:
    """https only; plain http is allowed to a loopback host (a local receiver, tests)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ValueError("AVATARFLOW_BUDGET_ALERT_URL is not a URL") from None
    host = parsed.host.strip("[]").lower()
    if parsed.userinfo:
        raise ValueError("AVATARFLOW_BUDGET_ALERT_URL must not carry credentials")
    if parsed.scheme == "https" and host:
        return
    if parsed.scheme == "http" and _is_loopback(host):
        return
    raise ValueError("AVATARFLOW_BUDGET_ALERT_URL must be an https URL")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookChannel:
    """POST the alert, signed per Standard Webhooks, with bounded retries and backoff."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        attempts: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from chalicelib.webhook_signatures import SignatureError, standard_webhooks_key

        check_alert_url(url)
        try:
            standard_webhooks_key(secret)
        except SignatureError:
            raise ValueError("AVATARFLOW_BUDGET_ALERT_SECRET must be whsec_<base64>") from None
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._transport = transport
        self._attempts = max(1, attempts)
        self._backoff = backoff_s
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:  # the URL may hold a token in its path: not in logs
        return "WebhookChannel()"

    def send(self, alert: BudgetAlert, body: bytes, msg_id: str) -> None:
        from chalicelib.webhook_signatures import sign_standard_webhook

        problem = "not sent"
        with httpx.Client(timeout=self._timeout, transport=self._transport, follow_redirects=False) as client:
            for attempt in range(self._attempts):
                if attempt:
                    self._sleep(self._backoff * 2 ** (attempt - 1))
                timestamp = int(self._clock())
                headers = {
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                    "webhook-id": msg_id,  # the same on every retry: the receiver deduplicates
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign_standard_webhook(self._secret, msg_id, timestamp, body),
                }
                try:
                    response = client.post(self._url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    problem = type(exc).__name__
                    continue
                if 200 <= response.status_code < 300:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in (408, 425, 429):
                    break  # the receiver refuses this request: another try would be refused too
        raise AlertDeliveryError(f"budget webhook failed ({problem})")


class SnsChannel:
    """Publish the alert to an SNS topic (boto3, imported when first used)."""

    name = "sns"

    def __init__(self, topic_arn: str, client: Any = None) -> None:
        parts = topic_arn.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] != "sns":
            raise ValueError("AVATARFLOW_BUDGET_SNS_TOPIC_ARN is not an SNS topic ARN")
        self._topic_arn = topic_arn
        self._region = parts[3]
        self._client = client
        self._lock = threading.Lock()

    def _sns(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "sns",
                    region_name=self._region,
                    config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3}),
                )
            return self._client

    def send(self, alert: BudgetAlert, body: bytes, msg_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._sns().publish(
                TopicArn=self._topic_arn,
                Subject=alert.subject()[:100],
                Message=body.decode(),
                MessageAttributes={"webhook-id": {"DataType": "String", "StringValue": msg_id}},
            )
        except (BotoCoreError, ClientError) as exc:
            raise AlertDeliveryError(f"budget SNS publish failed ({type(exc).__name__})") from None


class BudgetAlerts:
    """Fires each budget threshold once per period, to every configured channel."""

    def __init__(
        self,
        store: StateStore,
        budget: Budget,
        channels: Sequence[AlertChannel] = (),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
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
        now = self._clock()
        day_key, month_key = spend_keys(now)
        day_id, month_id = period_ids(now)
        spent_day, spent_month = self._store.counter_values([day_key, month_key])
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
                if not self._store.set_once(marker, "sending", SENDING_TTL_S):
                    continue  # already sent (or being sent) by someone
                alert = BudgetAlert(period, period_id, threshold, spent, budget)
                if self._deliver(alert, now):
                    self._store.set_json(marker, "sent", MARKER_TTL[period])
                    fired.append(alert)
                else:
                    # Let a later check (the next costly job, the hourly schedule) try again.
                    self._store.set_json(marker, "failed", RETRY_AFTER_FAILURE_S)
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
