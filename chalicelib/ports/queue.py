"""Lanes of pending work: generation jobs, and client callbacks to deliver."""

from __future__ import annotations

from typing import Literal, Protocol

MessageKind = Literal["job", "callback"]


class QueueError(Exception):
    """A job could not be handed to its lane (the queue is unreachable or refused it)."""


class JobQueue(Protocol):
    """Lanes served premium before free before batch. A message names a generation and what to
    do with it (``job``: run it; ``callback``: deliver its client callback); the work itself lives
    in the state store, so a message delivered twice does nothing twice."""

    @property
    def durable(self) -> bool:
        """Messages outlive this process (SQS): a job handed over survives a frozen Lambda."""
        ...

    def enqueue(self, generation_id: str, lane: str, kind: MessageKind = "job") -> None:
        """Raises :class:`QueueError` if the message cannot be handed over."""
        ...

    def depth(self, lane: str) -> int:
        """Roughly how many jobs wait in the lane (for the sync-or-async decision)."""
        ...

    def position(self, generation_id: str, lane: str) -> int | None:
        """Roughly where a queued job waits in its lane (1 = next), None where unknown: exact for
        the in-process lanes, the lane's approximate depth on SQS."""
        ...
