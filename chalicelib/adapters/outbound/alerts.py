"""Budget alert channels: a Standard Webhooks signed POST (httpx) and an SNS topic (boto3).

Each is a :class:`chalicelib.ports.AlertChannel`; ``services/operations/budget_alerts.py`` decides when an
alert is due and sends it to every configured channel.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any

import httpx

from chalicelib.adapters.aws import LazyAwsClient
from chalicelib.domain.budget import BudgetAlert
from chalicelib.ports import AlertDeliveryError

__all__ = ["SnsChannel", "WebhookChannel", "check_alert_url"]

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
USER_AGENT = "avatarflow-alerts/1.0"


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
        from chalicelib.domain.webhook_signatures import SignatureError, standard_webhooks_key

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
        from chalicelib.domain.webhook_signatures import sign_standard_webhook

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
        self._aws = LazyAwsClient(
            "sns", region=parts[3], connect_timeout=2, read_timeout=5, max_attempts=3, client=client
        )

    def _sns(self) -> Any:
        return self._aws.get()

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
