"""A provider's completion callback (``POST /v1/webhooks/{provider}``): verified, then acted on once.

The signature is checked against the raw body (fal: ED25519 with fal's published keys; Replicate:
Standard Webhooks with its ``whsec_`` secret; RunPod signs nothing, so the callback URL carries a
per-job secret, kept hashed on the job). Stale timestamps and replayed deliveries are refused; a
verified delivery about a job still waiting on that provider job ends it.

A job whose submit was made but whose handle was never written (its worker died in between: see
``services/generation/submit.py``) is *adopted*: the delivery names the provider's job, and the per-job
secret in the callback URL (every provider's, signed or not) must match the submit's recorded
intent, so that a delivery about another job cannot end this one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Literal

from chalicelib.domain.errors import InvalidRequest, NotFound, ProviderUnavailable, Unauthorized
from chalicelib.domain.generation import Generation
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.domain.webhook_signatures import (
    SignatureError,
    verify_fal_webhook,
    verify_job_secret,
    verify_standard_webhook,
)
from chalicelib.observability.logs import log_context
from chalicelib.ports import Clock, GenerationStore, KeyValueStore, QueuedProvider, StoreError, WebhookKeys
from chalicelib.services.generation.collect import CollectOutcome, CollectResult
from chalicelib.services.generation.submit import SubmitToProvider

log = logging.getLogger(__name__)

WEBHOOK_PROVIDERS = ("fal", "replicate", "runpod")
REPLAY_TTL_S = 24 * 3600
# A delivery being processed holds its replay key this long only, then REPLAY_TTL_S once acted on:
# if the container dies mid-way (killed, timed out at the API's 29 s), the provider's redelivery is
# processed after this, not refused as a duplicate for a day.
IN_FLIGHT_TTL_S = 60
WebhookOutcome = CollectOutcome | Literal["duplicate", "ignored"]


def valid_job_id(value: str | None) -> bool:
    return bool(value) and value is not None and value.startswith("gen_") and len(value) <= 64


class ReceiveWebhook:
    """Receives provider webhooks (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        kv: KeyValueStore,
        submit: SubmitToProvider,
        collect: CollectResult,
        fal_keys: WebhookKeys,
        replicate_secret: str,
        clock: Clock,
    ) -> None:
        self._generations = generations
        self._kv = kv
        self._submit = submit
        self._collect = collect
        self._fal_keys = fal_keys
        self._replicate_secret = replicate_secret
        self._clock = clock

    def receive(
        self, provider: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> WebhookOutcome:
        """Act on one delivery. Raises ``NotFound`` (no such webhook), ``Unauthorized`` (bad
        signature), ``InvalidRequest`` (not JSON) and ``ProviderUnavailable`` (not processed yet:
        the provider delivers it again)."""
        context = {"provider": provider} if provider in WEBHOOK_PROVIDERS else {}
        if valid_job_id(query.get("job")):
            context["job_id"] = query["job"]
        with log_context(**context):
            return self._receive(provider, {k.lower(): v for k, v in headers.items()}, query, body)

    def _receive(
        self, provider: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> WebhookOutcome:
        queued = self._submit.provider(provider) if provider in WEBHOOK_PROVIDERS else None
        if queued is None:
            raise NotFound("No such webhook.")
        job_id = query.get("job", "")
        generation = (
            self._generations.get(job_id) if valid_job_id(job_id) and not queued.signs_webhooks else None
        )
        try:
            delivery = self._verify(provider, headers, query, body, generation)
        except SignatureError as exc:
            log.warning("webhook refused", extra={"provider": provider, "reason": exc.reason})
            raise Unauthorized("The webhook signature is not valid.") from None
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InvalidRequest("The webhook body is not JSON.") from None
        replay_key = f"webhook:{delivery}"
        if not self._kv.set_once(replay_key, "1", IN_FLIGHT_TTL_S):
            return "duplicate"  # seen before (or being processed): nothing happens twice
        try:
            outcome = self._act(
                provider=provider,
                queued=queued,
                job_id=job_id,
                query=query,
                generation=generation,
                payload=payload,
                headers=headers,
                replay_key=replay_key,
            )
        except ProviderUnavailable:
            raise  # transient or busy: _act dropped the marker already
        except Exception:
            # Not acted on to the end (the store failed on the way): the provider's redelivery,
            # often within the minute, must be processed, not answered as a duplicate. Ending
            # the job is once-only, so processing it again is harmless.
            self._forget(replay_key)
            raise
        self._kv.set(replay_key, "1", REPLAY_TTL_S)  # acted on: a replay changes nothing for a day
        return outcome

    def _forget(self, replay_key: str) -> None:
        try:
            self._kv.delete(replay_key)
        except StoreError:  # it lapses after IN_FLIGHT_TTL_S anyway
            log.warning("webhook replay marker not dropped", exc_info=True)

    def _act(
        self,
        *,
        provider: str,
        queued: QueuedProvider,
        job_id: str,
        query: Mapping[str, str],
        generation: Generation | None,
        payload: object,
        headers: Mapping[str, str],
        replay_key: str,
    ) -> WebhookOutcome:
        if generation is None and valid_job_id(job_id):
            generation = self._generations.get(job_id)
        job = self._waited_for(generation, queued, payload, headers) or self._adopted(
            generation, queued, query, payload, headers
        )
        if generation is None or job is None:
            return "ignored"  # verified, but not (or no longer) about a job waiting on this provider job
        try:
            outcome = self._collect.collect(
                generation,
                queued,
                job,
                lambda: queued.from_webhook(
                    job, payload, quality=generation.model_quality, size=generation.size
                ),
            )
        except Exception:
            log.exception("webhook processing failed", extra={"job_id": generation.id, "provider": provider})
            outcome = "transient"
        if outcome in ("transient", "busy"):
            # Let the provider deliver it again (and the poller read it meanwhile). Busy: another
            # container is completing the job; should it die half way, only a redelivery (or the
            # poller, once its completion claim has lapsed) ends the job, so this is no success.
            self._kv.delete(replay_key)
            raise ProviderUnavailable("The result could not be processed yet; retry.", retry_after=5)
        return outcome

    def _verify(
        self,
        provider: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
        generation: Generation | None,
    ) -> str:
        """The delivery's id once its signature is verified; raises ``SignatureError``."""
        now = self._clock.time()
        if provider == "replicate":
            return "replicate:" + verify_standard_webhook(self._replicate_secret, headers, body, now=now)
        if provider == "fal":
            verify_fal_webhook(self._fal_keys, headers, body, now=now)
            signature = headers.get("x-fal-webhook-signature", "")
            return "fal:" + hashlib.sha256(signature.encode()).hexdigest()[:40]
        job = generation.provider_job if generation is not None else None
        intent = generation.submit_intent if generation is not None and job is None else None
        expected = job.secret_hash if job is not None and job.provider == "runpod" else ""
        verify_job_secret(expected or (intent.secret_hash if intent is not None else ""), query.get("token"))
        return "runpod:" + hashlib.sha256(body).hexdigest()[:40]

    @staticmethod
    def _adopted(
        generation: Generation | None,
        queued: QueuedProvider,
        query: Mapping[str, str],
        payload: object,
        headers: Mapping[str, str],
    ) -> ProviderJob | None:
        """The provider job a delivery is about, for a running job submitted without its handle
        on record (its worker died after the submit): the delivery's secret must be the submit's."""
        intent = generation.submit_intent if generation is not None else None
        if generation is None or intent is None or generation.status != "running" or generation.provider_job:
            return None
        try:
            verify_job_secret(intent.secret_hash, query.get("token"))
        except SignatureError:
            return None
        delivered = queued.delivery_job_id(payload)
        if not delivered or (
            queued.name == "fal" and headers.get("x-fal-webhook-request-id", "") != delivered
        ):
            return None
        log.warning(
            "webhook adopts a submitted job whose handle was never written",
            extra={"job_id": generation.id, "provider": queued.name},
        )
        return ProviderJob(queued.name, delivered, submitted_ms=intent.at_ms, secret_hash=intent.secret_hash)

    @staticmethod
    def _waited_for(
        generation: Generation | None, queued: QueuedProvider, payload: object, headers: Mapping[str, str]
    ) -> ProviderJob | None:
        """The provider job the generation waits on, if the delivery is about it."""
        job = generation.provider_job if generation is not None else None
        if generation is None or generation.is_terminal or job is None or job.provider != queued.name:
            return None
        if queued.delivery_job_id(payload) != job.id:
            return None
        # fal signs the request id header, not the body's copy of it: both must name the job.
        if queued.name == "fal" and headers.get("x-fal-webhook-request-id", "") != job.id:
            return None
        return job
