"""The admin audit trail's storage: an append-only log of the newest events, paged newest first."""

from __future__ import annotations

from typing import Protocol


class AuditLog(Protocol):
    """Audit events as JSON documents; each call one round trip; raises ``StoreError``."""

    def append(self, event_json: str, keep: int) -> int:
        """Add an event (its ``"seq"`` placeholder ``0`` is replaced by its position), keeping only
        the newest ``keep``; returns the position (1, 2, ...: newer is greater)."""
        ...

    def page(self, limit: int, before: int | None) -> list[str]:
        """Up to ``limit`` events older than position ``before`` (None: the newest), newest first."""
        ...
