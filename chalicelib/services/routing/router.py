"""The provider router: one :class:`~chalicelib.ports.ImageProvider` over every configured vendor.

Candidates, per quality, in order (only the configured adapters that ``supports(quality)``):

- ``fast``: FLUX.1 [schnell] on fal, then Together, Replicate, Hugging Face, RunPod;
- ``standard``: FLUX.1 [dev] on fal, then Replicate, Hugging Face;
- ``pro``: FLUX1.1 [pro] on fal, then gpt-image-1 on OpenAI (its failover);

then, where configured, the offline procedural renderer as the last resort.

The burst lane (``burst.py``): while the first of these is saturated (429s, slow calls, a deep
queue) and the spend guard allows it, the burst provider (RunPod) goes first, then the rest in
their order; once the primary has recovered, the order is the one above again.

Each vendor has a circuit breaker whose state lives in the state store, so that every Lambda
sees what the others learnt (see ``adapters/store/lua/breaker.lua``; read and written by ``breakers.py``, shared with
the webhook-mode submit and the health check): closed; open after N
consecutive failures for a cool-down that doubles after each failed trial; half-open once the
cool-down has passed, when exactly one caller (a store-side claim) makes the trial call; closed
again on success. One store call reads every candidate's breaker; outcomes are written only when
they change something (a success on a healthy breaker costs no round trip).

What a failure means (the ``kind`` of :class:`~chalicelib.ports.ProviderError`):

- ``retryable`` (timeout, 5xx): counts towards the breaker; next provider now. The same provider
  is tried again (backoff with full jitter) only if it deduplicates a repeated POST
  (``dedups_requests = True``), which none of the sync vendor APIs do: a blind retry could make
  (and bill) two images. With a ``Retry-After`` (a 429), the provider is "cooling" for every
  Lambda until then, without counting as a failure, and the next provider is tried now;
- ``down`` (unreachable, a 404 model, an answer we cannot use): counts; next provider;
- ``bad_request``: next provider (it may be that vendor's parameters), not counted;
- ``auth`` (bad key, no credit, or a model the vendor says does not exist:
  :class:`~chalicelib.ports.ProviderMisconfigured`): the breaker opens for long (an hour) and an
  operator alert (``provider_auth`` or ``provider_config``) is logged on ``avatarflow.alerts``
  (the provider's name and the adapter's scrubbed message: never a key); next provider;
- ``content_rejected``: raised at once, never tried elsewhere (shopping a refused prompt around
  until some vendor accepts it is exactly what a content policy forbids).

Routing has an overall deadline (25 s by default, under API Gateway's 29 s, or the caller's
``within_s`` if shorter): no attempt starts with less than ``min_attempt_s`` left. Each attempt
has a budget, passed as ``generate(request, within_s=...)`` (adapters end every call, poll and
download by then): the time left, less ``attempt_reserve_s`` (8 s by default, from
``AVATARFLOW_PROVIDER_ATTEMPT_RESERVE_SECONDS``) for each later vendor whose breaker is neither
open nor cooling and ``min_attempt_s`` for the offline fallback; but never less than an equal share
of the time left, nor ``min_attempt_s``. A hanging fal gets 17 s of 25, Together the 8 s left.

Every attempt is published as a :class:`ProviderAttempted` event (metrics count the failures); a
failed one is also logged with the vendor's request id (``vendor_request_id``) where it gave one.

A breaker store that cannot be reached never fails a generation: the router then routes as if
every breaker were closed, and logs it.

A photo generation goes the same way over the photo models (``photos.py`` calls :meth:`failover`
with them): the same breakers (a vendor down is down for both), the same events, no burst lane.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from chalicelib.domain.events import ProviderAttempted
from chalicelib.ports import (
    Clock,
    ImageProvider,
    ProviderBreakers,
    ProviderDown,
    ProviderError,
    ProviderHealth,
    ProviderRequest,
    ProviderResult,
    breaker_outcome,
)
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.routing.breakers import Breakers, publish_attempt
from chalicelib.services.routing.policy import RealClock, RoutingPolicy

if TYPE_CHECKING:
    from chalicelib.services.routing.burst import BurstLane, Saturation

log = logging.getLogger("avatarflow.providers")

Attempt = ProviderAttempted  # what the router records of each provider it considered


class AllProvidersFailed(ProviderDown):
    """Every candidate failed or was skipped; ``attempts`` says what happened to each."""

    def __init__(
        self, message: str, attempts: Sequence[Attempt], *, retry_after: float | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.attempts = tuple(attempts)

    @property
    def failed_providers(self) -> tuple[str, ...]:
        return tuple(a.provider for a in self.attempts if a.error_kind)


class ProviderRouter(ImageProvider):
    """:class:`chalicelib.ports.ImageProvider` that fails over between providers, with breakers."""

    name = "router"

    def __init__(
        self,
        providers: Iterable[ImageProvider],
        breakers: ProviderBreakers,
        *,
        fallback: ImageProvider | None = None,
        policy: RoutingPolicy | None = None,
        clock: Clock | None = None,
        rng: Callable[[], float] = random.random,
        bus: MessageBus | None = None,
        burst: BurstLane | None = None,
    ) -> None:
        self._providers: dict[str, ImageProvider] = {}
        for provider in providers:
            if provider.name in self._providers:
                raise ValueError(f"provider {provider.name!r} is configured twice")
            self._providers[provider.name] = provider
        self._fallback = fallback
        self._policy = policy or RoutingPolicy()
        self._routes = {quality: tuple(names) for quality, names in self._policy.routes.items()}
        self._retry = self._policy.retry
        self._deadline_s = self._policy.deadline_s
        self._min_attempt_s = self._policy.min_attempt_s
        self._attempt_reserve_s = max(0.0, self._policy.attempt_reserve_s)
        clock = clock or RealClock()
        self._monotonic = clock.monotonic
        self._sleep = clock.sleep
        self._breakers = Breakers(
            breakers, self._policy.breaker, clock, trial_lease_ms=self._policy.trial_lease_ms
        )
        self._rng = rng
        self._bus = bus
        self._burst = burst

    def __repr__(self) -> str:
        names = [*self._providers, *([self._fallback.name] if self._fallback else [])]
        return f"ProviderRouter(providers={names!r})"

    # -- configuration ---------------------------------------------------------------------

    @property
    def vendors(self) -> tuple[str, ...]:
        """The configured vendors, each with its breaker (the offline fallback has none)."""
        return tuple(self._providers)

    def vendor(self, name: str) -> ImageProvider | None:
        """The configured adapter of vendor ``name`` (None: not configured)."""
        return self._providers.get(name)

    @property
    def breakers(self) -> Breakers:
        """The shared breakers as this router reads and writes them."""
        return self._breakers

    @property
    def saturation(self) -> Saturation | None:
        """What this router knows of its vendors' load (None: no burst lane)."""
        return self._burst.saturation if self._burst is not None else None

    def candidates(self, quality: str) -> list[ImageProvider]:
        """The providers to try for ``quality``, in order (the fallback last); the burst provider
        first while the primary is saturated (see the module doc)."""
        chosen = [
            self._providers[name]
            for name in self._routes.get(quality, ())
            if name in self._providers and self._providers[name].supports(quality)
        ]
        burst = self._burst_for(quality, chosen)
        if burst is not None:
            chosen = [burst, *(p for p in chosen if p is not burst)]
        if self._fallback is not None:
            chosen.append(self._fallback)
        return chosen

    def supports(self, quality: str) -> bool:
        return bool(self.candidates(quality))

    def _burst_for(self, quality: str, chosen: Sequence[ImageProvider]) -> ImageProvider | None:
        """The burst provider, if it should go first for ``quality`` now."""
        if self._burst is None or not chosen:
            return None
        saturation = self._burst.saturation
        burst = self._providers.get(saturation.policy.provider)
        primary = chosen[0]
        if burst is None or primary is burst or not burst.supports(quality):
            return None
        if not saturation.saturated(primary.name) or saturation.saturated(burst.name):
            return None
        return burst if self._burst.allowed() else None

    # -- generation ------------------------------------------------------------------------

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        candidates = self.candidates(request.quality)
        if not candidates:
            raise AllProvidersFailed(f"no image provider is configured for quality {request.quality!r}", ())
        return self.failover(request, candidates, within_s=within_s)

    def failover(
        self,
        request: ProviderRequest,
        candidates: Sequence[ImageProvider],
        *,
        within_s: float | None = None,
        final: tuple[str, ...] = ("content_rejected",),
    ) -> ProviderResult:
        """Try ``candidates`` in order, with their breakers and within the deadline (module doc);
        every candidate but the router's offline fallback has a breaker. An error of a kind in
        ``final`` is raised at once (the photo models add ``bad_request``: see docs/photos.md)."""
        budget = self._deadline_s if within_s is None else min(self._deadline_s, within_s)
        deadline = self._monotonic() + budget
        health = self._breakers.health([p.name for p in candidates if p is not self._fallback])
        attempts: list[Attempt] = []
        for index, provider in enumerate(candidates):
            tracked = provider is not self._fallback
            if deadline - self._monotonic() < self._min_attempt_s:
                self._note(attempts, Attempt(provider.name, skipped="deadline"))
                break
            state = health.get(provider.name, ProviderHealth(provider.name))
            if tracked:
                skipped = self._breakers.skip_reason(state)
                if skipped is not None:
                    self._note(attempts, Attempt(provider.name, skipped=skipped))
                    continue
            started = self._monotonic()
            ends = self._attempt_deadline(deadline, candidates[index + 1 :], health)
            try:
                result = self._call(provider, request, ends)
            except ProviderError as exc:
                latency = (self._monotonic() - started) * 1000
                log.warning(
                    "provider %s failed (%s): %s",
                    provider.name,
                    exc.kind,
                    exc,
                    extra={
                        "provider": provider.name,
                        "error_kind": exc.kind,
                        "vendor_request_id": exc.vendor_request_id,
                    },
                )
                self._note(attempts, Attempt(provider.name, latency, exc.kind))
                if tracked and self.saturation is not None:
                    self.saturation.note_attempt(provider.name, latency, exc)
                if tracked:
                    self._breakers.record(provider.name, state, exc)
                if exc.kind in final:
                    raise
                continue
            except Exception as exc:
                # An adapter bug must not take the whole router down: count it as that provider down.
                latency = (self._monotonic() - started) * 1000
                log.exception("provider %s raised an unexpected error", provider.name)
                self._note(attempts, Attempt(provider.name, latency, "down"))
                if tracked:
                    error = ProviderDown(f"{provider.name}: {type(exc).__name__}")
                    self._breakers.record(provider.name, state, error)
                continue
            latency = (self._monotonic() - started) * 1000
            self._note(attempts, Attempt(provider.name, latency))
            if tracked and self.saturation is not None:
                self.saturation.note_attempt(provider.name, latency)
            if tracked:
                self._breakers.succeeded(provider.name, state)
            return result
        summary = ", ".join(f"{a.provider}: {a.skipped or a.error_kind}" for a in attempts)
        raise AllProvidersFailed(f"no image provider could make the image ({summary})", attempts)

    def _attempt_deadline(
        self, deadline: float, later: Sequence[ImageProvider], health: Mapping[str, ProviderHealth]
    ) -> float:
        """When the attempt starting now must end: the time left less a reserve for the later
        candidates, but at least an equal share of it and ``min_attempt_s`` (see the module doc)."""
        now = self._monotonic()
        left = deadline - now
        fallback = any(p is self._fallback for p in later)
        vendors = sum(
            1 for p in later if p is not self._fallback and self._breakers.may_try(health.get(p.name))
        )
        reserve = vendors * self._attempt_reserve_s + (self._min_attempt_s if fallback else 0.0)
        share = left / (1 + vendors + int(fallback))
        return now + min(left, max(left - reserve, share, self._min_attempt_s))

    def _call(self, provider: ImageProvider, request: ProviderRequest, deadline: float) -> ProviderResult:
        """One provider, retried only where a repeated request cannot make a second image."""
        retries = max(1, self._retry.max_attempts) if provider.dedups_requests else 1
        for attempt in range(retries):
            try:
                return self._call_once(provider, request, deadline)
            except ProviderError as exc:
                if exc.kind != "retryable" or breaker_outcome(exc) == "throttled" or attempt + 1 >= retries:
                    raise
                delay = self._retry.delay(attempt, self._rng)
                if deadline - self._monotonic() - delay < self._min_attempt_s:
                    raise
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _call_once(
        self, provider: ImageProvider, request: ProviderRequest, deadline: float
    ) -> ProviderResult:
        return provider.generate(request, within_s=max(0.0, deadline - self._monotonic()))

    def _note(self, attempts: list[Attempt], attempt: Attempt) -> None:
        attempts.append(attempt)
        publish_attempt(self._bus, attempt)
