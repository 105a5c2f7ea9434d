"""Pushing messages to open WebSocket connections (the real-time status API)."""

from __future__ import annotations

from typing import Protocol


class PushError(Exception):
    """A message could not be delivered now (timeout, throttling, the endpoint failing): the
    connection may still be there; the next change is pushed again."""


class ConnectionGone(PushError):
    """The connection is closed for good (API Gateway's 410 ``GoneException``): forget it."""

    def __init__(self, connection_id: str) -> None:
        super().__init__("the connection is gone")
        self.connection_id = connection_id


class PushChannel(Protocol):
    """Sends one text message to one connection, within a bounded time.

    Production: API Gateway's management API (``post_to_connection``); embedded default: the
    local stage's own WebSocket server. Raises :class:`ConnectionGone` for a connection that is
    closed or unknown, :class:`PushError` for anything else that failed."""

    def send(self, connection_id: str, message: str) -> None: ...

    def close(self, connection_id: str) -> None:
        """Best effort: close a connection from the server's side (never raises)."""
        ...
