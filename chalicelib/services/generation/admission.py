"""Admission: may this caller have this generation now? One store call decides it atomically.

The admit script (``admit.lua``) checks the general request rate, replays an ``Idempotency-Key``,
serves the result cache, joins an identical request in flight, applies the spend guard and every
quota window, and only then charges the windows, records the job and claims the in-flight slot.
Entitlements (style, quality, size, callbacks) need no store and are checked first; a prompt
that moderation refuses costs one store call, the one that counts it (``services/generation/refusals.py``):
past the hourly limit of refused prompts, every generation request of that identity is refused,
by the admit script itself for the others.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.errors import (
    BudgetExhausted,
    Conflict,
    ContentRejected,
    Forbidden,
    InvalidRequest,
    QuotaExceeded,
    RateLimit,
    RateLimited,
    StoreUnavailable,
)
from chalicelib.domain.events import GenerationAdmitted, PromptRefused
from chalicelib.domain.experiment import DEV_QUALITY, ELIGIBLE_QUALITY, Arm, arm_for
from chalicelib.domain.generation import Generation, cache_quality, iso, request_hash
from chalicelib.domain.identity import Identity
from chalicelib.domain.periods import spend_keys, stats_prefixes, window_period
from chalicelib.domain.similarity import SimilarResult
from chalicelib.domain.styles import get_style
from chalicelib.domain.tiers import Tier
from chalicelib.domain.trend_periods import hour_stats_prefix
from chalicelib.domain.uploads import DEFAULT_LIKENESS
from chalicelib.ports import AdmitOutcome, AdmitRequest, Clock, GenerationStore, StoreError, WindowCharge
from chalicelib.schemas.models import GenerationRequest
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.generation.policy import GenerationPolicy
from chalicelib.services.generation.refusals import Refusals
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.operations.counters import DAY_STATS_TTL, HOUR_STATS_TTL, MONTH_STATS_TTL


@dataclass(frozen=True)
class Admitted:
    """An accepted request: ``created`` (a new job), ``cached``, ``joined`` or ``replayed``;
    ``similar``: cached results of similar requests, offered as an instant choice."""

    outcome: AdmitOutcome
    generation: Generation
    rate_limit: RateLimit | None
    similar: tuple[SimilarResult, ...] = ()


def window_charges(identity: Identity, tier: Tier, now: float) -> list[WindowCharge]:
    """The quota counters a generation of this identity is charged to, as of ``now``."""
    charges = []
    for window in identity.windows if identity.windows is not None else tier.windows:
        label, reset_at = window_period(window, now)
        charges.append(WindowCharge(window.name, f"q:{identity.key}:{label}", window.limit, reset_at))
    return charges


class Admission:
    """Checks entitlements and admits requests (``POST /v1/generations``, batches, gallery AI)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        tiers: Mapping[str, Tier],
        gallery: GalleryService,
        policy: GenerationPolicy,
        bus: MessageBus,
        clock: Clock,
        refusals: Refusals,
    ) -> None:
        self._generations = generations
        self._refusals = refusals
        self._tiers = tiers
        self._gallery = gallery
        self._policy = policy
        self._bus = bus
        self._clock = clock

    def check_entitlements(self, identity: Identity, req: GenerationRequest) -> None:
        """Raise the refusal (invalid style, a quality or size the tier lacks, a refused prompt):
        nothing is charged, nothing reaches a provider. No store call, but for a refused prompt the
        one that counts it; past the limit of refused prompts it answers 429, not 422."""
        tier = self._tiers[identity.tier]
        style = get_style(req.style)
        if style is None:
            raise InvalidRequest(
                f"Unknown style {req.style!r}; see GET /v1/styles.",
                details=[{"field": "style", "message": "unknown style"}],
            )
        if self._policy.moderation.refuses(req.prompt):
            refused, window = self._refusals.record(identity.key)
            self._bus.publish(PromptRefused(req.style))
            if self._refusals.exceeded(refused):
                # Past the limit a refused prompt is answered as every other request: no answer
                # tells a prober which prompts the list refuses.
                raise RateLimited(
                    "Too many requests; slow down.",
                    retry_after=max(window.reset_at - int(self._clock.time()), 1),
                    suggestions=self._gallery.suggest(req.style, req.style),
                    rate_limit=RateLimit(self._refusals.limit, 0, window.reset_at),
                )
            raise ContentRejected(
                "The prompt was refused by the content policy; it was not charged. Pick an avatar from "
                "the gallery or change the prompt.",
                details=[{"field": "prompt", "message": "refused by the content policy"}],
                # Never the refused prompt as the suggestions' salt: style only.
                suggestions=self._gallery.suggest(req.style, req.style),
            )
        if req.quality not in style.qualities or req.quality not in tier.qualities:
            raise Forbidden(f"The {tier.name} tier does not include quality {req.quality!r}.")
        if req.size not in tier.sizes:
            raise Forbidden(f"The {tier.name} tier does not include size {req.size}.")
        if req.callback_url and identity.kind != "api_key":
            raise Forbidden("callback_url is available to enterprise API clients only.")

    def lane_for(self, identity: Identity) -> str:
        """The lane this identity's generations go to."""
        return self._tiers[identity.tier].lane

    def admit(
        self,
        identity: Identity,
        req: GenerationRequest,
        *,
        idempotency_key: str | None = None,
        lane: str | None = None,
        batch: str | None = None,
        accounting_tier: str | None = None,
        gallery_candidate: bool = False,
        rate: tuple[str, int] | None = None,
        claim_lease_ms: int | None = None,
    ) -> Admitted:
        """Admit one request in one store call, or raise its refusal (429, 503, 409).

        ``lane`` overrides the tier's (batches), ``batch`` tags the job with its batch,
        ``accounting_tier`` the tier its spend and stats count under (the gallery's own jobs), and
        ``rate`` replaces the general request rate counter (its key and limit: a batch counts once,
        not once per item). With ``claim_lease_ms`` a created job comes back claimed (running) for
        the caller, who runs it at once."""
        self.check_entitlements(identity, req)
        photo = req.photo
        if photo is not None and (batch is not None or gallery_candidate):
            raise InvalidRequest("A photo generation is made one at a time: not in a batch.")
        tier = self._tiers[identity.tier]
        now = self._clock.time()
        arm = None if photo is not None else self._arm(identity, req, gallery_candidate)
        # A photo generation is the caller's alone: a request hash of its own (random) means no
        # cache entry, no identical request in flight and no similar result ever matches it, and
        # finish.lua never puts it in the cache or the similar-results index.
        own_hash = secrets.token_hex(16) if photo is not None else None
        new = Generation(
            id="gen_" + secrets.token_urlsafe(15),
            owner=identity.key,
            style=req.style,
            prompt=req.prompt,
            variation=req.variation,
            size=req.size,
            quality=req.quality,
            lane=lane or tier.lane,
            tier=accounting_tier or tier.name,
            created_at=iso(now),
            request_hash=own_hash
            or request_hash(req.style, req.prompt, req.variation, req.size, cache_quality(req.quality, arm)),
            callback_url=req.callback_url,
            batch=batch,
            gallery_candidate=gallery_candidate,
            arm=arm,
            photo=photo,
            likeness=(req.likeness if req.likeness is not None else DEFAULT_LIKENESS) if photo else None,
        )
        minute = int(now) // 60
        refusals = self._refusals.window(identity.key)
        request = AdmitRequest(
            generation=new,
            windows=window_charges(identity, tier, now),
            rate_key=rate[0] if rate else f"rl:{identity.key}:{minute}",
            rate_limit=rate[1] if rate else self._policy.rate_per_minute,
            rate_reset_at=(minute + 1) * 60,
            now_ms=int(now * 1000),
            deadline_ms=int((now + self._policy.job_deadline_s) * 1000),
            idempotency_key=idempotency_key,
            spend_keys=spend_keys(now),
            spend_limits=self._policy.budget.limits_for(tier.name),
            stats_prefixes=(
                *zip(stats_prefixes(now), (DAY_STATS_TTL, MONTH_STATS_TTL), strict=True),
                (hour_stats_prefix(now), HOUR_STATS_TTL),  # the dashboard's 24-hour trends
            ),
            claim_lease_ms=claim_lease_ms,
            # Only a caller who sees the answer is offered similar results (not batches, not the
            # gallery's own jobs); any request may accept one.
            offer_similar=batch is None and not gallery_candidate and photo is None,
            accept_similar=req.accept_similar and photo is None,
            body_hash=request_hash(req.style, _body_prompt(req), req.variation, req.size, req.quality),
            refusals_key=refusals.key,
            refusals_limit=self._refusals.limit,
            refusals_reset_at=refusals.reset_at,
        )
        try:
            result = self._generations.admit(request)
            if result.outcome == "expired":  # the store ran it too late: it changed nothing
                raise StoreError("the store ran the admission past its time")
        except StoreError as exc:
            # Quotas fail closed; the gallery (read from the object store) still offers a way out.
            # The store acts on an admission only within its call's time (admit.lua), so this 503
            # means nothing was charged or created: a retry is safe.
            raise StoreUnavailable(
                "The service cannot check quotas right now; pick from the gallery or retry shortly.",
                retry_after=5,
                suggestions=self._gallery.suggest(req.style, req.prompt),
            ) from exc
        self._bus.publish(GenerationAdmitted(result.outcome))
        rate_limit = None
        if result.limit is not None:
            rate_limit = RateLimit(result.limit, result.remaining or 0, result.reset_at or 0)
        self._raise_for_refusal(result.outcome, result.retry_after, req, rate_limit)
        if result.generation is None:  # every accepting outcome carries the record
            raise StoreError("the store accepted a request without returning its record")
        return Admitted(result.outcome, result.generation, rate_limit, result.similar)

    def _arm(self, identity: Identity, req: GenerationRequest, gallery_candidate: bool) -> Arm | None:
        """The experiment's arm of this request (domain/experiment.py), None where it does not
        apply: the experiment is off, the request is not `fast`, its style has no dev model, or it
        is the gallery's own job."""
        share = self._policy.experiment_dev_share
        if share <= 0 or req.quality != ELIGIBLE_QUALITY or gallery_candidate:
            return None
        style = get_style(req.style)
        if style is None or DEV_QUALITY not in style.qualities:
            return None
        return arm_for(identity.key, share)

    def _raise_for_refusal(
        self,
        outcome: AdmitOutcome,
        retry_after: int | None,
        req: GenerationRequest,
        rate_limit: RateLimit | None,
    ) -> None:
        if outcome in ("quota_exceeded", "rate_limited"):
            suggestions = self._gallery.suggest(req.style, req.prompt)
            if outcome == "quota_exceeded":
                raise QuotaExceeded(
                    "You have used every generation of your tier for now; pick from the gallery or retry "
                    "after the reset.",
                    retry_after=retry_after or 1,
                    suggestions=suggestions,
                    rate_limit=rate_limit,
                )
            raise RateLimited(
                "Too many requests; slow down.",
                retry_after=retry_after or 1,
                suggestions=suggestions,
                rate_limit=rate_limit,
            )
        if outcome == "budget_exhausted":
            raise BudgetExhausted(
                "Custom avatars are paused for now; pick one from the gallery instead.",
                retry_after=3600,
                suggestions=self._gallery.suggest(req.style, req.prompt),
                rate_limit=rate_limit,
            )
        if outcome == "idempotency_conflict":
            raise Conflict(
                "This Idempotency-Key was used with a different request body.", rate_limit=rate_limit
            )


def _body_prompt(req: GenerationRequest) -> str:
    """The prompt as the idempotency binding hashes it: with the photo and likeness of a photo
    generation, so one Idempotency-Key cannot replay a different photo's avatar."""
    if req.photo is None:
        return req.prompt
    return f"{req.prompt}\x1fphoto={req.photo}\x1flikeness={req.likeness}"
