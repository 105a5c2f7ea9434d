"""Generations in the state store: admission, claims, the end of a job, reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from chalicelib.domain.generation import Generation
from chalicelib.domain.provider_job import ProviderJob, SubmitIntent
from chalicelib.domain.similarity import SimilarResult
from chalicelib.domain.watcher import Watcher

AdmitOutcome = Literal[
    "created",
    "cached",
    "joined",
    "replayed",
    "quota_exceeded",
    "rate_limited",
    "idempotency_conflict",
    "budget_exhausted",
    "expired",  # the script ran after its caller had given up (act_by_ms): it changed nothing
]


@dataclass(frozen=True)
class WindowCharge:
    """One quota window to check and charge: its counter key, limit and when it resets."""

    name: str
    key: str
    limit: int
    reset_at: int  # epoch seconds


@dataclass(frozen=True)
class AdmitRequest:
    """Everything the hot-path script needs to decide on a generation request in one call."""

    generation: Generation  # the new generation, as it is stored if the request is created
    windows: Sequence[WindowCharge]
    rate_key: str
    rate_limit: int
    rate_reset_at: int
    now_ms: int
    deadline_ms: int
    idempotency_key: str | None = None
    idempotency_ttl: int = 24 * 3600
    spend_keys: tuple[str, str] = ("spend:day:none", "spend:month:none")  # today's, this month's USD
    spend_limits: tuple[float, float] = (-1.0, -1.0)  # the tier's daily and monthly cap; < 0 = none
    stats_prefixes: tuple[tuple[str, int], ...] = ()  # (prefix, ttl): admit.lua counts outcomes there
    claim_lease_ms: int | None = None  # claim a created job for the caller, who runs it at once
    # Cached results of similar requests (domain/similarity.py), looked up in the same call when
    # the request is neither cached nor joined: offered (``similar``), or with ``accept_similar``
    # a close enough one served at once as a cache hit, uncharged.
    offer_similar: bool = True
    accept_similar: bool = False
    # What an ``Idempotency-Key`` is bound to: the request as its client sent it (the generation's
    # request hash less the experiment's arm), so that a retry is replayed, not refused as another
    # body, even if the arm's share changed in between. None: the generation's request hash.
    body_hash: str | None = None
    # The time (epoch ms, by the store's clock) past which the store must not act on the request:
    # its caller has given up on the call and answered 503, so a late execution (a store that
    # stalled, the command queued meanwhile) must change nothing. None: the adapter's default, a
    # little less than its own call budget from now.
    act_by_ms: int | None = None
    # Refused prompts (services/generation/refusals.py): the caller's counter of this hour, and how many it may
    # reach before every request is refused until ``refusals_reset_at`` (epoch s; 0: no limit).
    refusals_key: str = "refused:none"
    refusals_limit: int = 0
    refusals_reset_at: int = 0


@dataclass(frozen=True)
class AdmitResult:
    outcome: AdmitOutcome
    generation: Generation | None  # every accepting outcome carries it
    limit: int | None = None
    remaining: int | None = None
    reset_at: int | None = None
    retry_after: int | None = None
    similar: tuple[SimilarResult, ...] = ()  # best first; empty unless looked up


@dataclass(frozen=True)
class Counter:
    """An amount to add to a counter when a job finishes (stats, spend)."""

    key: str
    amount: float
    ttl: int


@dataclass(frozen=True)
class Finish:
    """A job as it ended (``Generation.ended``), and what ending it adds to the counters.

    Success fills the result cache for ``cache_ttl`` seconds; failure refunds the quota the job
    was charged, once.

    The two kinds of counter differ on a job that had already ended (reaped past its deadline,
    or finished by another run) or is no longer known:

    - ``spend``: what a provider was paid for this result. Added on every call, ended job or
      not: the money is gone either way, and the spend guard must see it.
    - ``counters``: the stats of the job (status, tier, provider, latency). Added only by the
      call that ends the job, so that each job counts once.
    """

    generation: Generation
    cache_ttl: int = 7 * 24 * 3600
    counters: Sequence[Counter] = field(default_factory=tuple)
    spend: Sequence[Counter] = field(default_factory=tuple)


@dataclass(frozen=True)
class Finished:
    """What ending a job did: ``ended`` False if it had already ended (or is unknown); the
    identical requests that ended with it so far, and those still to end (``finish_followers``).
    ``erased``: its caller erased their data while it ran (DELETE /v1/me): it ended into nothing
    (refunded, no cache entry, record deleted) and ``ended`` is False."""

    ended: bool
    followers: int = 0
    pending: int = 0
    watchers: tuple[Watcher, ...] = ()  # who watched the job (or its batch) as this call ended it
    erased: bool = False
    # The batches of the followers this call ended: a batch item that joined a job outside its
    # batch ends with that job, and its batch may end with it (services/generation/batch_completion.py).
    batches: tuple[str, ...] = ()


class FollowersEnded(NamedTuple):
    """One ``finish_followers`` chunk: followers ``ended`` now, those ``left`` to end, and the
    batches of the ones ended (as :attr:`Finished.batches`)."""

    ended: int
    left: int
    batches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Erased:
    """What one erasure call did to an identity's generations (see ``GenerationStore.erase``)."""

    erased: int  # records erased (or, for a job still running, tombstoned to end into nothing)
    left: int  # records of the identity still listed: call again while > 0
    request_hashes: tuple[str, ...] = ()  # the requests they were for (their cache entries go)
    batches: tuple[str, ...] = ()  # enterprise batches they belonged to
    orphans: tuple[str, ...] = ()  # stored images that no one holds any more: delete them


class GenerationStore(Protocol):
    """Generation records and their atomic moves (the Lua scripts); raises ``StoreError``."""

    def admit(self, request: AdmitRequest) -> AdmitResult:
        """Rate limit, idempotency, cache, in-flight join and every quota window, atomically."""
        ...

    def claim(self, generation_id: str, now_ms: int, lease_ms: int, force: bool = False) -> Generation | None:
        """Move a queued job to running (or take over an expired lease); None if not claimable."""
        ...

    def finish(self, finish: Finish) -> Finished:
        """End a job and the first of the identical requests that joined it, waking whoever waits
        for any of them. ``finish.spend`` is added in every case (a provider paid for a late result
        still cost money), ``finish.counters`` only when this call ended the job."""
        ...

    def finish_followers(self, generation_id: str) -> FollowersEnded:
        """End the next chunk of an ended job's followers: ended now, still to end, their batches."""
        ...

    def wait_ended(self, generation: Generation, timeout_s: float) -> Generation | None:
        """Block until ``generation`` ends, at most ``timeout_s`` seconds, in ONE call (no polling):
        the generation as it ended, or None if it is still open."""
        ...

    def release(self, generation_id: str) -> bool:
        """Put a running job back to ``queued`` (its attempt failed and will be retried), dropping
        its lease, provider job and poll; False if it was not running."""
        ...

    def intend_submit(self, generation_id: str, intent: SubmitIntent) -> bool:
        """On a running job, before it is submitted to a provider's queue API: record the intent
        (see ``SubmitIntent``). False if the job is not running (it ended, or was released)."""
        ...

    def hand_to_provider(
        self, generation_id: str, job: ProviderJob, lease_until_ms: int, poll_at_ms: int
    ) -> bool:
        """On a running job, at once: keep the provider's job handle, hold the claim until
        ``lease_until_ms`` and schedule the polling fallback at ``poll_at_ms``. False if the job is
        not running (it ended, or was never claimed)."""
        ...

    def get(self, generation_id: str) -> Generation | None: ...

    def history(
        self, identity_key: str, limit: int, cursor: tuple[int, str] | None
    ) -> tuple[list[Generation], tuple[int, str] | None]:
        """The identity's generations, newest first, from an exclusive (score, id) cursor."""
        ...

    def statuses(self, generation_ids: Sequence[str]) -> list[str | None]:
        """The status of each generation (None where unknown), in one call."""
        ...

    def open_ids(self, limit: int = 1000) -> list[str]:
        """Ids of jobs accepted and not yet ended, oldest deadline first."""
        ...

    def erase(self, identity_key: str, limit: int) -> Erased:
        """Erase up to ``limit`` of the identity's generations in one atomic call: records,
        idempotency entries, links to the jobs they joined, their hold on images, their requests'
        entries in the similar-results index (see ``Erased``). A job still running is tombstoned
        and ends into nothing. Records of other identities are never touched."""
        ...

    def forget_results(self, request_hashes: Sequence[str]) -> None:
        """Delete the result cache entries of these requests (one call)."""
        ...
