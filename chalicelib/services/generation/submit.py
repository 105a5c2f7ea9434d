"""Webhook mode: hand a claimed job to the first healthy provider queue API that takes it.

With ``AVATARFLOW_PUBLIC_URL`` set and a queue-capable provider (fal, Replicate, RunPod), no
Lambda waits on a GPU: the job is submitted with a callback URL and its handle is kept on the
generation; the webhook, the polling fallback or the reaper end it.

A worker can die between the provider's answer and the store write of the handle. So the intent
is recorded first (``SubmitIntent``: when, and the hash of a per-job secret that the callback URL
carries, whatever the provider): the webhook adopts a job whose handle was never written (the
delivery names the provider's job; the secret proves it is this job's), and a redelivered lane
message waits for that webhook for the provider's usual time (``EXPECTED_S``) before it submits
again (``services/generation/lanes.py``): no duplicate provider call.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from urllib.parse import urlencode

from chalicelib.domain.events import ProviderAttempted
from chalicelib.domain.generation import Generation
from chalicelib.domain.provider_job import ProviderJob, SubmitIntent
from chalicelib.domain.webhook_signatures import secret_hash
from chalicelib.ports import (
    BreakerPolicy,
    Clock,
    GenerationStore,
    ProviderBreakers,
    ProviderError,
    ProviderHealth,
    ProviderQueues,
    QueuedProvider,
    RetryableProviderError,
)
from chalicelib.services.generation.progress import publish_phase
from chalicelib.services.generation.run_job import provider_request
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.routing.breakers import Breakers, publish_attempt

log = logging.getLogger(__name__)

# When a webhook-mode job is first polled if its webhook has not come: a generous multiple of
# the usual time at the provider, per quality. A submit whose handle was never written is waited
# for (its webhook adopts it) as long before it is made again.
EXPECTED_S = {"fast": 20.0, "standard": 60.0, "pro": 120.0}


def expected_s(quality: str) -> float:
    """How long a job of this quality may take at a provider before it is looked at again."""
    return EXPECTED_S.get(quality, 60.0)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class SubmitToProvider:
    """Submits jobs to providers' queue APIs (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        breakers: ProviderBreakers,
        queues: ProviderQueues,
        bus: MessageBus,
        clock: Clock,
        public_url: str | None,
        breaker_policy: BreakerPolicy,
        job_deadline_s: int,
    ) -> None:
        self._generations = generations
        # The router's breakers, read and written the same way (services/routing/breakers.py).
        self._breakers = Breakers(breakers, breaker_policy, clock)
        self._queues = queues
        self._bus = bus
        self._clock = clock
        self._public_url = public_url.rstrip("/") if public_url else None
        self._deadline_s = job_deadline_s

    @property
    def webhook_mode(self) -> bool:
        """Provider queue APIs with callbacks: a public URL and at least one queue-capable provider."""
        return self._public_url is not None and self._queues.available

    def candidates(self, quality: str) -> list[QueuedProvider]:
        """The queue APIs a job of this quality may be submitted to (none outside webhook mode)."""
        return self._queues.for_quality(quality) if self.webhook_mode else []

    def provider(self, name: str) -> QueuedProvider | None:
        return self._queues.get(name)

    def webhook_url(self, provider: str, generation_id: str, token: str = "") -> str:
        query = {"job": generation_id, **({"token": token} if token else {})}
        return f"{self._public_url}/v1/webhooks/{provider}?{urlencode(query)}"

    def submit(self, generation: Generation, candidates: list[QueuedProvider]) -> ProviderJob | None:
        """Hand a claimed job to the first healthy candidate that takes it; keep its handle.

        Returns None if the job ended meanwhile (the provider job is then canceled). Raises the
        last provider error if none took it.
        """
        request = provider_request(generation)
        health = self._breakers.health([c.name for c in candidates])
        now_ms = self._breakers.now_ms()
        takers = [c for c in candidates if health.get(c.name, ProviderHealth(c.name)).available(now_ms)]
        if not takers:
            raise RetryableProviderError("every queue-capable provider is cooling down or open")
        # One secret for this submit, whichever provider takes it: it lets the webhook adopt the
        # provider's job should the handle never be written (providers that sign their webhooks
        # included: a signature proves the sender, not which of our jobs the delivery is for).
        token = secrets.token_urlsafe(24)
        if not self._generations.intend_submit(generation.id, SubmitIntent(now_ms, secret_hash(token))):
            return None  # no longer running (ended, or released): nothing to submit
        last_error: ProviderError | None = None
        for candidate in takers:
            try:
                job = candidate.submit(request, self.webhook_url(candidate.name, generation.id, token))
            except ProviderError as exc:
                publish_attempt(self._bus, ProviderAttempted(candidate.name, error_kind=exc.kind))
                self._breakers.record(
                    candidate.name, health.get(candidate.name, ProviderHealth(candidate.name)), exc
                )
                if exc.kind == "content_rejected":
                    raise
                last_error = exc
                continue
            now = self._clock.time()
            job = dataclasses.replace(job, submitted_ms=_ms(now), secret_hash=secret_hash(token))
            poll_at = now + expected_s(generation.model_quality)
            lease_until = generation.created_epoch or now
            if not self._generations.hand_to_provider(
                generation.id, job, _ms(lease_until + self._deadline_s), _ms(poll_at)
            ):
                candidate.cancel(job)
                return None
            log.info("job submitted", extra={"job_id": generation.id, "provider": candidate.name})
            publish_phase(
                self._bus, dataclasses.replace(generation, provider_job=job), "generating", self._clock
            )
            return job
        raise last_error or RetryableProviderError("every queue-capable provider is cooling down or open")
