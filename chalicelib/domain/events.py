"""Domain events: what happened, recorded by a use case and handed to the message bus.

Reactions (client callbacks, budget checks, metrics, and later the real-time push) are handlers
registered in ``bootstrap``; a use case never knows who listens.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.generation import Generation


class Event:
    """Base of every domain event."""


@dataclass(frozen=True)
class GenerationAdmitted(Event):
    """A generation request was decided in the store: ``outcome`` is the admit outcome
    (created, cached, joined, replayed, or a refusal such as quota_exceeded)."""

    outcome: str


@dataclass(frozen=True)
class GenerationFinished(Event):
    """A job ended (succeeded or failed), as it now is; ``followers`` identical requests that
    joined it ended with it."""

    generation: Generation
    followers: int = 0


@dataclass(frozen=True)
class SpendRecorded(Event):
    """A provider was paid for a job (USD), counted in the same store call that ended it."""

    provider: str
    tier: str
    amount_usd: float


@dataclass(frozen=True)
class ProviderAttempted(Event):
    """One provider considered for one job: called (with its latency, and ``error_kind`` if it
    failed: retryable, down, auth, ...) or skipped, and why (open, cooling, trial_taken, deadline)."""

    provider: str
    latency_ms: float = 0.0
    error_kind: str | None = None  # None when it made the image (or was skipped)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None and self.skipped is None


@dataclass(frozen=True)
class GalleryItemChosen(Event):
    """A user made a gallery item their avatar (Unsplash asks to be told of each download)."""

    entry: GalleryEntry
