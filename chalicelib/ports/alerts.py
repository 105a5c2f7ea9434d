"""Where budget alerts go: a signed webhook, an SNS topic (the log line is always written)."""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.budget import BudgetAlert


class AlertDeliveryError(Exception):
    """A channel could not deliver an alert (after its own retries)."""


class AlertChannel(Protocol):
    name: str

    def send(self, alert: BudgetAlert, body: bytes, msg_id: str) -> None:
        """Deliver or raise :class:`AlertDeliveryError`."""
        ...
