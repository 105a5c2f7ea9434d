"""The ports: the small interfaces the use cases depend on.

``bootstrap`` picks one adapter per port from the settings; every port has a production adapter
and an embedded default, and ``tests/contract`` runs one suite against both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# --------------------------------------------------------------------------------------------
# State store
# --------------------------------------------------------------------------------------------

GenerationRecord = dict[str, str]
"""A generation as the store keeps it: a flat hash of strings (see services.generations)."""

AdmitOutcome = Literal[
    "created",
    "cached",
    "joined",
    "replayed",
    "quota_exceeded",
    "rate_limited",
    "idempotency_conflict",
    "budget_exhausted",
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

    identity_key: str
    generation_id: str
    request_hash: str
    record: Mapping[str, str]
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


@dataclass(frozen=True)
class AdmitResult:
    outcome: AdmitOutcome
    generation: GenerationRecord | None
    limit: int | None = None
    remaining: int | None = None
    reset_at: int | None = None
    retry_after: int | None = None


@dataclass(frozen=True)
class Counter:
    """An amount to add to a counter when a job finishes (stats, spend)."""

    key: str
    amount: float
    ttl: int


@dataclass(frozen=True)
class Finish:
    """How a job ended. ``failed`` refunds the quota the job was charged, once."""

    generation_id: str
    status: Literal["succeeded", "failed"]
    completed_at: str
    request_hash: str = ""  # names the cache and in-flight keys; read from the record if empty
    images: Mapping[str, str] | None = None
    provider: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    cache_ttl: int = 7 * 24 * 3600
    counters: Sequence[Counter] = field(default_factory=tuple)
    fields: Mapping[str, str] = field(default_factory=dict)  # extra record fields: latency, cost


class StateStore(Protocol):
    """Hot state: quotas, idempotency, result cache, in-flight claims and job records.

    Each method is one round trip to the store. Raises :class:`StoreError` when the store cannot
    be reached or answers with an error; callers fail closed.
    """

    def admit_generation(self, request: AdmitRequest) -> AdmitResult:
        """Rate limit, idempotency, cache, in-flight claim and every quota window, atomically."""
        ...

    def claim_job(
        self, generation_id: str, now_ms: int, lease_ms: int, force: bool = False
    ) -> GenerationRecord | None:
        """Move a queued job to running (or take over an expired lease); None if not claimable."""
        ...

    def finish_generation(self, finish: Finish) -> bool:
        """End a job (and the identical requests that joined it); False if it had already ended."""
        ...

    def get_generation(self, generation_id: str) -> GenerationRecord | None: ...

    def list_generations(
        self, identity_key: str, limit: int, cursor: tuple[int, str] | None
    ) -> tuple[list[GenerationRecord], tuple[int, str] | None]:
        """The identity's generations, newest first, from an exclusive (score, id) cursor."""
        ...

    def quota_counts(self, keys: Sequence[str]) -> list[int]:
        """The current values of quota counters (0 where absent)."""
        ...

    def open_jobs(self, limit: int = 1000) -> list[str]:
        """Ids of jobs accepted and not yet ended, oldest deadline first."""
        ...

    def get_json(self, key: str) -> str | None: ...

    def set_json(self, key: str, value: str, ttl: int | None = None) -> None: ...

    def ping(self) -> bool: ...

    def provider_health(self, names: Sequence[str]) -> dict[str, ProviderHealth]:
        """The circuit breaker of each named provider, in one call (a fresh, closed one where the
        store holds nothing)."""
        ...

    def claim_provider_trial(self, name: str, now_ms: int, lease_ms: int) -> bool:
        """Take the single trial call of a half-open breaker, atomically: True for exactly one
        caller until the lease ends or an outcome is recorded (True for a closed breaker)."""
        ...

    def record_provider_outcome(
        self,
        name: str,
        outcome: BreakerOutcome,
        now_ms: int,
        policy: BreakerPolicy,
        *,
        retry_after: float | None = None,
        kind: str = "",
    ) -> ProviderHealth:
        """Apply one call's outcome (``kind``: the error kind, kept as the reason) to the provider's
        breaker atomically; ``retry_after`` seconds for ``throttled``. Returns the new state."""
        ...

    # -- operations: API keys (see ApiKeyRecord), stats and spend counters, once-only markers --

    def put_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new key's record, its lookup by hash and its place in the listing, at once."""
        ...

    def get_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The live (unrevoked) key with this hash: one GET."""
        ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """A key's full record by id (revoked or not), webhook secret included."""
        ...

    def list_api_keys(self, limit: int = 1000) -> list[ApiKeyRecord]:
        """Every key, newest first, without hashes or secrets."""
        ...

    def revoke_api_key(self, key_id: str) -> bool:
        """Mark the key revoked and delete its lookup in one atomic call; False if unknown."""
        ...

    def counter_values(self, keys: Sequence[str]) -> list[float]:
        """The current values of counters (stats, spend) in one call, 0.0 where absent."""
        ...

    def set_once(self, key: str, value: str, ttl: int) -> bool:
        """SET NX with a TTL: True for exactly one caller while the key lives."""
        ...

    def delete_key(self, key: str) -> None: ...

    # -- async jobs: provider jobs (webhook mode), timers, batch counts (services/jobs.py) --

    def set_provider_job(self, generation_id: str, job: str, lease_until_ms: int, poll_at_ms: int) -> bool:
        """On a running job, at once: keep the provider's job handle (``job``, JSON), hold the
        claim until ``lease_until_ms`` and schedule the polling fallback at ``poll_at_ms``.
        False if the job is not running (it ended, or was never claimed)."""
        ...

    def release_job(self, generation_id: str) -> bool:
        """Put a running job back to ``queued`` (its attempt failed and will be retried), dropping
        its lease, provider job and poll; False if it was not running."""
        ...

    def due_jobs(self, timer: TimerKind, now_ms: int, limit: int = 100) -> list[str]:
        """Ids whose timer is due by ``now_ms``, earliest first: ``deadline`` (open jobs past their
        deadline), ``poll`` (webhook jobs to poll), ``callback`` (client callbacks to deliver)."""
        ...

    def schedule_job(self, timer: TimerKind, generation_id: str, at_ms: int | None) -> None:
        """Set a ``poll`` or ``callback`` timer of a job to ``at_ms``, or cancel it with None (a
        stale ``deadline`` entry can only be cancelled: deadlines are set by ``admit_generation``)."""
        ...

    def generation_statuses(self, generation_ids: Sequence[str]) -> list[str | None]:
        """The status of each generation (None where unknown), in one call."""
        ...


TimerKind = Literal["deadline", "poll", "callback"]


class StoreError(Exception):
    """The state store is unreachable, too slow, or refused the call."""


BreakerOutcome = Literal["success", "failure", "throttled", "auth", "neutral"]
"""What a provider call means for its breaker: ``success`` closes it; ``failure`` (timeout, 5xx,
unreachable) counts towards opening it; ``throttled`` (a 429 with ``Retry-After``) cools it down
until then without counting; ``auth`` (bad key, no credit) opens it for a long time; ``neutral``
(a bad request) leaves it as it is."""

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    """When a provider's breaker opens, and for how long."""

    failure_threshold: int = 3  # consecutive failures that open a closed breaker
    cooldown_s: float = 30.0  # the first open period; doubled after each failed trial ...
    max_cooldown_s: float = 300.0  # ... up to this
    auth_open_s: float = 3600.0  # bad credentials or no credit: open this long
    max_cooling_s: float = 600.0  # a Retry-After is honoured up to this
    memory_s: float = 600.0  # a breaker untouched this long (and not open) is forgotten


@dataclass(frozen=True)
class ProviderHealth:
    """A provider's circuit breaker as shared by every Lambda through the state store.

    ``open_until_ms`` 0 means closed; in the future, open; in the past, half-open (one trial
    call may go through, held by ``trial_until_ms``). ``cooling_until_ms`` is a throttle
    (``Retry-After``) that skips the provider until then whatever the breaker says.
    """

    name: str
    failures: int = 0
    open_until_ms: int = 0
    cooldown_ms: int = 0
    cooling_until_ms: int = 0
    trial_until_ms: int = 0
    reason: str = ""  # the error kind that last opened or cooled it

    def state(self, now_ms: int) -> BreakerState:
        if self.open_until_ms <= 0:
            return "closed"
        return "open" if self.open_until_ms > now_ms else "half_open"

    def cooling(self, now_ms: int) -> bool:
        return self.cooling_until_ms > now_ms

    @property
    def pristine(self) -> bool:
        """Nothing to reset: a success here need not be written to the store."""
        return self.failures == 0 and self.open_until_ms == 0 and self.trial_until_ms == 0


# --------------------------------------------------------------------------------------------
# Object store
# --------------------------------------------------------------------------------------------

IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"


class ObjectStore(Protocol):
    """Images and documents by key (``folder/name``), with a public URL per key."""

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str = IMMUTABLE_CACHE_CONTROL
    ) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def exists(self, key: str) -> bool: ...

    def public_url(self, key: str) -> str: ...


class ObjectStoreError(Exception):
    """The object store failed to read or write."""


# --------------------------------------------------------------------------------------------
# Job queue
# --------------------------------------------------------------------------------------------


class QueueError(Exception):
    """A job could not be handed to its lane (the queue is unreachable or refused it)."""


class JobQueue(Protocol):
    """Lanes of pending generation jobs: premium before free before batch."""

    def enqueue(self, generation_id: str, lane: str) -> None: ...

    def depth(self, lane: str) -> int:
        """Roughly how many jobs wait in the lane (for the sync-or-async decision)."""
        ...


# --------------------------------------------------------------------------------------------
# Image providers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderRequest:
    style_id: str
    prompt: str  # the full prompt (style template + user words)
    user_prompt: str
    variation: int
    seed: int
    size: int
    quality: str


@dataclass(frozen=True)
class ProviderResult:
    image: bytes  # encoded image bytes as the provider returned them (after fetching)
    provider: str
    model: str
    cost_usd: float
    latency_ms: float
    picture: Any = None  # a decoded PIL image when made in-process: saves an encode and a decode


class ImageProvider(Protocol):
    """Makes one image for a request; raises :class:`ProviderError` subclasses on failure."""

    name: str

    def generate(self, request: ProviderRequest) -> ProviderResult: ...


class ProviderError(Exception):
    """A provider failed. ``kind`` tells the router what to do next."""

    kind: Literal["retryable", "down", "bad_request", "content_rejected", "auth"] = "down"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --------------------------------------------------------------------------------------------
# Gallery
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryEntry:
    """One gallery item as stored in the manifest: image keys, not URLs."""

    id: str
    style: str
    tags: tuple[str, ...]
    source: str
    image_keys: Mapping[str, str]
    attribution_name: str | None = None
    attribution_url: str | None = None
    license: str = "CC0-1.0"
    external_urls: Mapping[str, str] | None = None  # hotlinked sources (Unsplash) are not re-hosted
    download_location: str | None = None  # Unsplash: to be called when a user picks this photo


class RetryableProviderError(ProviderError):
    """Timeout, 5xx, throttling: try again later or elsewhere."""

    kind = "retryable"


class ProviderDown(ProviderError):
    """The provider is unreachable or failing on every call."""

    kind = "down"


class ProviderBadRequest(ProviderError):
    """The provider refused the request itself (4xx other than auth/throttle)."""

    kind = "bad_request"


class ContentRejected(ProviderError):
    """The prompt or the output was flagged; never retried at another provider."""

    kind = "content_rejected"


class ProviderAuthError(ProviderError):
    """Bad credentials or no credit left: open the breaker and alert an operator."""

    kind = "auth"


# --------------------------------------------------------------------------------------------
# Operations: API keys, stats counters, once-only markers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKeyRecord:
    """An enterprise API key as the store keeps it: never the key itself, only its keyed hash.

    ``key_hash`` and ``webhook_secret`` are filled only where they are needed (issuing, and
    signing callbacks through :meth:`StateStore.get_api_key`); listings leave them empty.
    """

    id: str
    name: str
    tier: str
    limits: Mapping[str, int]
    created_at: str
    prefix: str  # the visible start of the key, for an operator to recognise it
    revoked: bool = False
    key_hash: str = ""
    webhook_secret: str = ""


# --------------------------------------------------------------------------------------------
# Gallery sources (see chalicelib/adapters/sources and services/gallery_refresh)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceItem:
    """One candidate gallery item as a source offers it, before it is re-hosted or listed.

    Exactly one of ``image_url`` (re-hosted: fetched through the SSRF-safe fetch, processed and
    stored under ``gallery/``), ``external_urls`` (hotlinked, never re-hosted: one URL per size),
    ``render`` (made in-process: returns bytes or a PIL image) or ``stored_keys`` (renditions
    already in the object store, e.g. a finished generation's ``img/`` keys per size: copied byte
    for byte under ``gallery/``) says where the picture is.
    ``cursor`` is the source's token to resume at this item's page in a later run.
    """

    source: str  # "pexels" | "generated_photos" | "unsplash" | "ai" | "procedural"
    source_id: str  # stable within the source: the refresh dedups on it
    style: str
    tags: tuple[str, ...]
    license: str
    attribution_name: str | None = None
    attribution_url: str | None = None
    image_url: str | None = None
    external_urls: Mapping[str, str] | None = None
    render: Callable[[], Any] | None = None
    download_location: str | None = None
    cursor: str | None = None
    stored_keys: Mapping[str, str] | None = None


class GallerySource(Protocol):
    """Offers candidate gallery items for a style, within its own rate limits.

    ``fetch`` yields at most about ``budget`` items per call (the caller may stop early), skips
    malformed items with a log line, and raises :class:`SourceError` subclasses: a
    :class:`SourceRateLimited` ends this source's run until ``retry_at``.
    """

    name: str
    styles: tuple[str, ...]  # the styles this source can fill
    per_run: int  # new items per style and run that its limits allow
    allowed_hosts: tuple[str, ...]  # where its re-hosted images may be downloaded from

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]: ...


class SourceError(Exception):
    """A gallery source failed; ``retry_at`` (epoch seconds) says when to ask it again, if known."""

    def __init__(self, message: str, *, retry_at: float | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class SourceRateLimited(SourceError):
    """HTTP 429 or the quota headers say nothing is left: stop this source until ``retry_at``."""


class SourceAuthError(SourceError):
    """The key is wrong or revoked: every call would fail the same way."""


class SourceUnavailable(SourceError):
    """Timeout, 5xx, an answer that is not JSON: try again in a later run."""
