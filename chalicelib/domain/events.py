"""Domain events: what happened, recorded by a use case and handed to the message bus.

Reactions (client callbacks, budget checks, metrics, the real-time push) are handlers
registered in ``bootstrap``; a use case never knows who listens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.generation import Generation
from chalicelib.domain.progress import JobProgress
from chalicelib.domain.watcher import Watcher


class Event:
    """Base of every domain event."""


@dataclass(frozen=True)
class GenerationAdmitted(Event):
    """A generation request was decided in the store: ``outcome`` is the admit outcome
    (created, cached, joined, replayed, or a refusal such as quota_exceeded)."""

    outcome: str


@dataclass(frozen=True)
class PromptRefused(Event):
    """Prompt moderation refused a generation request before admission (nothing was charged or
    sent to a provider); counted in the admin stats as the admission outcome ``content_rejected``."""

    style: str


@dataclass(frozen=True)
class GenerationFinished(Event):
    """A job ended (succeeded or failed), as it now is; ``followers`` identical requests that
    joined it ended with it; ``watchers``, where the store said so as it ended the job (in the
    same call), the connections that watched it or its batch (None: not known, ask the store)."""

    generation: Generation
    followers: int = 0
    watchers: tuple[Watcher, ...] | None = None
    # The batches of the followers that ended with it: a batch item that joined a job outside its
    # batch (another request's) ends here, and its batch may end with it.
    follower_batches: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchItemsEnded(Event):
    """Items of these batches ended without a ``GenerationFinished`` of their own or of their
    job: followers of a job ended by the reaper (their finisher stopped half way) or of a job
    whose caller erased their data. Their batches may have ended with them."""

    batch_ids: tuple[str, ...]


@dataclass(frozen=True)
class GenerationProgressed(Event):
    """An open job moved on: a lane picked it up (``starting``), its provider call began or the
    provider reported progress (``generating``), or its image is being stored (``storing``).
    ``generation`` is the job as its worker holds it (running); ``progress`` is the new phase."""

    generation: Generation
    progress: JobProgress


@dataclass(frozen=True)
class BatchRecorded(Event):
    """An enterprise batch was admitted and recorded; ``new_jobs``: how many of its items are new
    jobs (each publishes its own end once the batch is recorded). With none, every item was a cache
    hit, a replay, or joined another job, which may have ended before the batch was recorded."""

    batch_id: str
    new_jobs: int


@dataclass(frozen=True)
class BatchFinished(Event):
    """Every generation of an enterprise batch has ended; ``counts`` by status, as
    ``GET /v1/batches/{id}`` reports them."""

    batch_id: str
    owner: str
    generation_ids: tuple[str, ...]
    counts: Mapping[str, int]


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
class GenerationChosen(Event):
    """A user made one of their own generations their avatar (``PUT /v1/me/avatar``): the
    outcome the schnell-against-dev experiment measures."""

    generation: Generation


@dataclass(frozen=True)
class ProviderKeyChanged(Event):
    """One key of a vendor's pool changed state in this process: ``retired`` (401/403: the
    operator must look), ``cooling`` (429) or ``restored``. The key itself is never here, only
    its ``fingerprint``."""

    provider: str
    fingerprint: str
    change: str  # retired | cooling | restored
    status: int | None  # the vendor's HTTP status that caused it
    for_s: float  # how long the key is out of use
    healthy_keys: int  # how many of the pool's keys are usable now


@dataclass(frozen=True)
class GalleryItemChosen(Event):
    """A user made a gallery item their avatar (Unsplash asks to be told of each download)."""

    entry: GalleryEntry
