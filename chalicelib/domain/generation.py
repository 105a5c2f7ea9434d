"""A generation: one request for a custom avatar, and the job that makes it.

States and the legal moves between them (the table: ``domain/generation_transitions.py``)::

    queued --claim--> running --end(Success)--> succeeded
      ^                  |   \\--end(Failure)--> failed   (every charged quota window refunded)
      +----release-------+
    queued --end(...)--> succeeded | failed      (a job failed before it ran, a follower ending)

A request identical to one in flight *joins* it (``leader`` names the job it follows) and ends
with it; a request served from the result cache is born ``succeeded`` with ``cached`` set.

The store keeps a generation as a flat hash of strings; :meth:`Generation.to_fields` and
:meth:`Generation.from_fields` are the one place that knows that shape. The store's Lua scripts
make the same moves atomically (``claim.lua``, ``release.lua``, ``finish.lua``); the methods here
say what a move means, for the services and for the events they publish. Both follow one table
of transitions, and a contract test drives the table through both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalicelib.domain.experiment import ARMS, DEV_QUALITY, Arm
from chalicelib.domain.generation_transitions import Move, Status, next_status, state_of
from chalicelib.domain.progress import JobProgress
from chalicelib.domain.provider_job import ProviderJob, SubmitIntent

OPEN_STATUSES: tuple[Status, ...] = ("queued", "running")
TERMINAL_STATUSES: tuple[Status, ...] = ("succeeded", "failed")
BASE_SIZES = (128, 256, 512)


class IllegalTransition(Exception):
    """A move the state machine does not allow (e.g. ending a generation twice)."""


def iso(ts: float) -> str:
    """An epoch time as the contract's ISO 8601 UTC text, with milliseconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch(iso_time: str) -> float:
    """The epoch seconds of an ISO 8601 time (0.0 if it cannot be read)."""
    try:
        return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def normalize_prompt(prompt: str) -> str:
    """The cache's view of a prompt: Unicode NFC, case-folded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", prompt)).strip().casefold()


def request_hash(style: str, prompt: str, variation: int, size: int, quality: str) -> str:
    """Identical requests (after normalisation) share this hash, and so their result."""
    canonical = json.dumps([style, normalize_prompt(prompt), variation, size, quality], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


def cache_quality(quality: str, arm: Arm | None) -> str:
    """The quality as the result cache keys it: the dev arm of the experiment (domain/experiment.py)
    is a model of its own, so its results are never shared with schnell's."""
    return f"{quality}+dev" if arm == "dev" else quality


def sizes_for(size: int) -> tuple[int, ...]:
    """The renditions a generation of this size is stored in."""
    return (*BASE_SIZES, 1024) if size == 1024 else BASE_SIZES


@dataclass(frozen=True)
class Success:
    """A job's image was made and stored: its object keys per size, and what it cost."""

    images: Mapping[str, str]
    provider: str
    model: str = ""
    latency_ms: float = 0.0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Failure:
    """A job ended without an image; ``code`` is one of the contract's error codes."""

    code: str
    message: str


Outcome = Success | Failure


@dataclass(frozen=True)
class Generation:
    """One generation, as admitted and as it moves through its states (immutable: each move
    returns the generation after it)."""

    id: str
    owner: str  # the identity's store key (u:..., k:..., ip:...)
    style: str
    prompt: str
    variation: int
    size: int
    quality: str
    lane: str
    tier: str  # the accounting tier (stats and spend), usually the caller's
    created_at: str
    request_hash: str
    status: Status = "queued"
    cached: bool = False
    images: Mapping[str, str] | None = None  # size -> object key, once succeeded
    provider: str | None = None
    error: Failure | None = None
    completed_at: str | None = None
    callback_url: str | None = None
    batch: str | None = None
    gallery_candidate: bool = False
    leader: str | None = None  # the job this request joined
    attempts: int = 0  # claims so far
    lease_until_ms: int = 0
    provider_job: ProviderJob | None = None  # at a provider's queue API (webhook mode)
    submit_intent: SubmitIntent | None = None  # a submit to a queue API made (or about to be)
    charged: tuple[str, ...] = ()  # the quota counters this job was charged, until it ends
    refunded: bool = False
    model: str | None = None
    provider_latency_ms: float | None = None
    cost_usd: float | None = None
    progress: JobProgress | None = None  # the running phase, as recorded (see domain/progress.py)
    arm: Arm | None = None  # the experiment's arm (domain/experiment.py), where it applied
    photo: str | None = None  # a photo generation's upload: never cached, shared or similar
    likeness: float | None = None
    unknown: Mapping[str, str] = field(default_factory=dict)  # fields a newer writer added: kept

    # -- what it is ----------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def never_started(self) -> bool:
        """Admitted and never claimed, by itself or a leader: nothing dispatched it yet."""
        return self.status == "queued" and not self.attempts and not self.leader

    @property
    def created_epoch(self) -> float:
        return epoch(self.created_at)

    @property
    def seed(self) -> int:
        """The provider seed: stable per identical request, so a repeat makes the same picture."""
        return int(self.request_hash[:8], 16)

    @property
    def sizes(self) -> tuple[int, ...]:
        return sizes_for(self.size)

    @property
    def model_quality(self) -> str:
        """The quality whose model makes the image: the one asked for, except in the experiment's
        dev arm (FLUX.1 [dev] for a ``fast`` request)."""
        return DEV_QUALITY if self.arm == "dev" else self.quality

    @property
    def cache_quality(self) -> str:
        """The quality as the result cache and the similar-results index key it."""
        return cache_quality(self.quality, self.arm)

    # -- moves ---------------------------------------------------------------------------------
    def claimed(self, now_ms: int, lease_ms: int, force: bool = False) -> Generation:
        """queued -> running under a lease (or a running job whose lease ran out, taken over; any
        running job when ``force``d: restart recovery)."""
        move: Move = "forced claim" if force else "claim"
        if next_status(state_of(self.status, self.lease_until_ms, now_ms), move) is None:
            held = self.status == "running"
            raise IllegalTransition(
                f"{self.id} is held by another worker" if held else f"{self.id} has ended ({self.status})"
            )
        return dataclasses.replace(
            self, status="running", attempts=self.attempts + 1, lease_until_ms=now_ms + lease_ms
        )

    def released(self) -> Generation:
        """running -> queued: an attempt failed and will be retried; the charge stays."""
        if next_status(self.status, "release") is None:
            raise IllegalTransition(f"{self.id} is not running ({self.status})")
        return dataclasses.replace(
            self, status="queued", lease_until_ms=0, provider_job=None, submit_intent=None, progress=None
        )

    def ended(self, outcome: Outcome, completed_at: str) -> Generation:
        """running | queued -> succeeded | failed. A failure refunds what the job was charged."""
        move: Move = "end in success" if isinstance(outcome, Success) else "end in failure"
        if next_status(self.status, move) is None:
            raise IllegalTransition(f"{self.id} has already ended ({self.status})")
        if isinstance(outcome, Success):
            return dataclasses.replace(
                self,
                status="succeeded",
                images=dict(outcome.images),
                provider=outcome.provider,
                error=None,
                completed_at=completed_at,
                lease_until_ms=0,
                model=outcome.model or None,
                provider_latency_ms=outcome.latency_ms,
                cost_usd=outcome.cost_usd,
            )
        return dataclasses.replace(
            self,
            status="failed",
            images=None,
            error=outcome,
            completed_at=completed_at,
            lease_until_ms=0,
            charged=(),
            refunded=self.refunded or bool(self.charged),
        )

    # -- the store's hash ----------------------------------------------------------------------
    def to_fields(self) -> dict[str, str]:
        """The flat string hash the store keeps (empty values left out)."""
        fields = {
            "id": self.id,
            "owner": self.owner,
            "style": self.style,
            "prompt": self.prompt,
            "variation": str(self.variation),
            "size": str(self.size),
            "quality": self.quality,
            "lane": self.lane,
            "tier": self.tier,
            "created_at": self.created_at,
            "request_hash": self.request_hash,
            "status": self.status,
            "cached": "1" if self.cached else "0",
            "images": json.dumps(dict(self.images), separators=(",", ":")) if self.images else "",
            "provider": self.provider or "",
            "error_code": self.error.code if self.error else "",
            "error_message": self.error.message if self.error else "",
            "completed_at": self.completed_at or "",
            "callback_url": self.callback_url or "",
            "batch": self.batch or "",
            "gallery_candidate": "1" if self.gallery_candidate else "",
            "leader": self.leader or "",
            "attempts": str(self.attempts) if self.attempts else "",
            "lease_until": str(self.lease_until_ms) if self.lease_until_ms else "",
            "provider_job": self.provider_job.to_json() if self.provider_job else "",
            "submit_intent": self.submit_intent.to_json() if self.submit_intent else "",
            "charged": " ".join(self.charged),
            "refunded": "1" if self.refunded else "",
            "model": self.model or "",
            "provider_latency_ms": _decimal(self.provider_latency_ms, 1),
            "cost_usd": _decimal(self.cost_usd, 6),
            "progress": self.progress.to_json() if self.progress else "",
            "arm": self.arm or "",
            "photo": self.photo or "",
            "likeness": _decimal(self.likeness, 3),
            **self.unknown,
        }
        return {name: value for name, value in fields.items() if value != ""}

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Generation:
        """A generation from the store's hash; tolerant of fields an older writer left out."""
        get = fields.get
        status = get("status") or "queued"
        error = None
        if status == "failed":
            error = Failure(get("error_code") or "internal", get("error_message") or "The generation failed.")
        return cls(
            id=fields["id"],
            owner=get("owner", ""),
            style=get("style", ""),
            prompt=get("prompt", ""),
            variation=_int(get("variation")),
            size=_int(get("size"), 512),
            quality=get("quality") or "fast",
            lane=get("lane") or "free",
            tier=get("tier") or "unknown",
            created_at=get("created_at", ""),
            request_hash=get("request_hash", ""),
            status=status if status in (*OPEN_STATUSES, *TERMINAL_STATUSES) else "queued",
            cached=get("cached") == "1",
            images=_images(get("images")),
            provider=get("provider") or None,
            error=error,
            completed_at=get("completed_at") or None,
            callback_url=get("callback_url") or None,
            batch=get("batch") or None,
            gallery_candidate=get("gallery_candidate") == "1",
            leader=get("leader") or None,
            attempts=_int(get("attempts")),
            lease_until_ms=_int(get("lease_until")),
            provider_job=ProviderJob.from_json(get("provider_job")),
            submit_intent=SubmitIntent.from_json(get("submit_intent")),
            charged=tuple((get("charged") or "").split()),
            refunded=get("refunded") == "1",
            model=get("model") or None,
            provider_latency_ms=_float(get("provider_latency_ms")),
            cost_usd=_float(get("cost_usd")),
            progress=JobProgress.from_json(get("progress")),
            arm=_arm(get("arm")),
            photo=get("photo") or None,
            likeness=_float(get("likeness")),
            unknown={k: v for k, v in fields.items() if k not in _KNOWN_FIELDS},
        )


_KNOWN_FIELDS = frozenset(
    [
        "id",
        "owner",
        "style",
        "prompt",
        "variation",
        "size",
        "quality",
        "lane",
        "tier",
        "created_at",
        "request_hash",
        "status",
        "cached",
        "images",
        "provider",
        "error_code",
        "error_message",
        "completed_at",
        "callback_url",
        "batch",
        "gallery_candidate",
        "leader",
        "attempts",
        "lease_until",
        "provider_job",
        "submit_intent",
        "charged",
        "refunded",
        "model",
        "provider_latency_ms",
        "cost_usd",
        "progress",
        "arm",
        "photo",
        "likeness",
    ]
)


def _arm(value: str | None) -> Arm | None:
    for arm in ARMS:
        if value == arm:
            return arm
    return None


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _decimal(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"


def _images(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        images = json.loads(value)
    except ValueError:
        return None
    return {str(k): str(v) for k, v in images.items()} if isinstance(images, dict) and images else None
