"""The life of a job after it was admitted: lanes, provider queue APIs and webhooks, polling, the reaper.

Every accepted job ends ``succeeded`` or ``failed`` (refunded) within its deadline, through one of:

- a lane worker (``workers/lanes.py``, or the in-process queue): it claims the job (``claim.lua``:
  one holder per lease, so a message delivered twice calls the provider once) and either makes the
  image right there, or, in webhook mode, submits it to a provider's queue API with a callback URL
  and returns (no Lambda idles on a GPU). A failed attempt is released and its message retried;
  at the N-th receive (``ApproximateReceiveCount``) the worker fails the job (refund) instead.
- the provider's webhook (``api/webhooks.py``): signature, freshness and replay checked, then the
  output fetched, processed, stored and the job finished.
- the polling fallback: a webhook-mode job not finished after its expected time is polled by the
  scheduled reaper (``workers/reaper.py``), with a growing gap.
- the reaper: any job still open past its deadline is polled one last time, then failed (refund).
  DLQs are the backstop of the lanes; the reaper is the backstop of everything.

Whoever reads a finished provider job first takes a short completion claim (SET NX), so that a
webhook, a poll and the sync path never process the same output twice; ``finish.lua`` ends a job
exactly once in any case.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from chalicelib import metrics
from chalicelib.adapters.providers.queued import JobFailed, ProviderJob, QueuedProvider, QueuedProviders
from chalicelib.domain.errors import ApiError
from chalicelib.logs import log_context
from chalicelib.ports import (
    BreakerPolicy,
    GenerationRecord,
    JobQueue,
    ProviderDown,
    ProviderError,
    ProviderHealth,
    ProviderResult,
    RetryableProviderError,
    StateStore,
    StoreError,
)
from chalicelib.services.callbacks import CallbackSender
from chalicelib.services.generations import LEASE_MS, GenerationService
from chalicelib.webhook_signatures import (
    FalJwks,
    SignatureError,
    secret_hash,
    verify_fal_webhook,
    verify_job_secret,
    verify_standard_webhook,
)

log = logging.getLogger(__name__)

LaneOutcome = Literal["done", "retry"]
FinishOutcome = Literal["done", "pending", "transient", "busy", "failed"]
TERMINAL = ("succeeded", "failed")
WEBHOOK_PROVIDERS = ("fal", "replicate", "runpod")
COMPLETION_CLAIM_S = 300
REPLAY_TTL_S = 24 * 3600
# When a webhook-mode job is first polled if its webhook has not come: a generous multiple of
# the usual time at the provider, per quality. Later polls back off up to MAX_POLL_GAP_S.
EXPECTED_S: Mapping[str, float] = {"fast": 20.0, "standard": 60.0, "pro": 120.0}
MIN_POLL_GAP_S = 15.0
MAX_POLL_GAP_S = 300.0


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _epoch(iso_time: str) -> float:
    try:
        return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def valid_job_id(value: str | None) -> bool:
    return bool(value) and value is not None and value.startswith("gen_") and len(value) <= 64


@dataclass(frozen=True)
class WebhookReply:
    status: int
    body: dict[str, Any]


class AsyncJobs:
    """Lanes, webhook mode, webhooks, polling and the reaper (see the module docstring)."""

    def __init__(
        self,
        *,
        store: StateStore,
        generations: GenerationService,
        queue: JobQueue,
        providers: QueuedProviders | None = None,
        public_url: str | None = None,
        callbacks: CallbackSender | None = None,
        replicate_webhook_secret: str | None = None,
        fal_jwks: FalJwks | None = None,
        max_receives: int = 5,
        max_attempts: int = 3,
        policy: BreakerPolicy | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._store = store
        self._generations = generations
        self._queue = queue
        self._providers = providers
        self._public_url = public_url.rstrip("/") if public_url else None
        self.callbacks = callbacks
        self._replicate_secret = replicate_webhook_secret or ""
        self._fal_jwks = fal_jwks or FalJwks()
        self._max_receives = max(1, max_receives)
        self._max_attempts = max(1, max_attempts)
        self._policy = policy or BreakerPolicy()
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._poll_interval = poll_interval_s

    @property
    def webhook_mode(self) -> bool:
        """Provider queue APIs with callbacks: a public URL and at least one queue-capable provider."""
        return self._public_url is not None and bool(self._providers)

    @property
    def max_receives(self) -> int:
        return self._max_receives

    # -- lanes ---------------------------------------------------------------------------------
    def handle_message(self, job_id: str, kind: str, receive_count: int) -> LaneOutcome:
        """One lane message: a job to run, or a client callback to deliver."""
        if kind == "callback":
            self.deliver_callback(job_id)
            return "done"
        return self.process(job_id, receive_count=receive_count)

    def process(self, generation_id: str, *, receive_count: int | None = None) -> LaneOutcome:
        """Claim and run (or submit) a queued job. ``retry``: leave the message to be redelivered.

        ``receive_count`` is the message's ``ApproximateReceiveCount``; at ``max_receives`` (or
        with None: a queue that never redelivers) a failure fails the job (refund) at once.
        """
        final = receive_count is None or receive_count >= self._max_receives
        record = self._store.claim_job(generation_id, _ms(self._clock()), LEASE_MS)
        if record is None:
            current = self._store.get_generation(generation_id)
            if current is None or current.get("status") in TERMINAL or current.get("provider_job"):
                return "done"  # ended, or at a provider (its webhook, the poller or the reaper end it)
            # Another worker holds it: look again later; past N receives the reaper is the backstop.
            return "done" if final else "retry"
        try:
            candidates = self._candidates(record.get("quality", "fast")) if self.webhook_mode else []
            if not candidates:
                return "done" if self._generations.execute(record, final=final) else "retry"
            try:
                self._submit(record, candidates)
            except ProviderError as exc:
                if final or exc.kind in ("content_rejected", "bad_request"):
                    self._generations.fail_for(record, exc)
                    return "done"
                self._store.release_job(generation_id)
                return "retry"
            except ApiError as exc:
                self._generations.fail_for(record, exc)
            return "done"
        except StoreError:
            raise  # the message is retried; the claim's lease runs out first
        except Exception as exc:
            log.exception("lane job crashed", extra={"job_id": generation_id})
            if final:
                self._generations.fail_for(record, exc)
                return "done"
            self._store.release_job(generation_id)
            return "retry"

    def _candidates(self, quality: str) -> list[QueuedProvider]:
        return self._providers.for_quality(quality) if self._providers else []

    # -- submission (webhook mode) ---------------------------------------------------------------
    def _submit(self, record: GenerationRecord, candidates: list[QueuedProvider]) -> ProviderJob | None:
        """Hand a claimed job to the first healthy provider queue that takes it; keep its handle.

        Returns None if the job ended meanwhile (the provider job is then canceled). Raises the
        last provider error if none took it.
        """
        request = self._generations.provider_request(record)
        health = self._health([c.name for c in candidates])
        last_error: ProviderError | None = None
        for candidate in candidates:
            state = health.get(candidate.name, ProviderHealth(candidate.name))
            now_ms = _ms(self._clock())
            if state.cooling(now_ms) or state.state(now_ms) == "open":
                continue
            token = "" if candidate.signs_webhooks else secrets.token_urlsafe(24)
            try:
                job = candidate.submit(request, self.webhook_url(candidate.name, record["id"], token))
            except ProviderError as exc:
                self._record_outcome(candidate.name, exc)
                if exc.kind == "content_rejected":
                    raise
                last_error = exc
                continue
            now = self._clock()
            job = replace(job, submitted_ms=_ms(now), secret_hash=secret_hash(token) if token else "")
            poll_at = now + EXPECTED_S.get(record.get("quality", "fast"), 60.0)
            if not self._store.set_provider_job(
                record["id"], job.to_json(), self._deadline_ms(record), _ms(poll_at)
            ):
                candidate.cancel(job)
                return None
            log.info("job submitted", extra={"job_id": record["id"], "provider": candidate.name})
            return job
        raise last_error or RetryableProviderError("every queue-capable provider is cooling down or open")

    def webhook_url(self, provider: str, generation_id: str, token: str = "") -> str:
        query = {"job": generation_id, **({"token": token} if token else {})}
        return f"{self._public_url}/v1/webhooks/{provider}?{urlencode(query)}"

    def _deadline_ms(self, record: GenerationRecord) -> int:
        created = _epoch(record.get("created_at", "")) or self._clock()
        return _ms(created + self._generations.job_deadline)

    def _health(self, names: list[str]) -> dict[str, ProviderHealth]:
        try:
            return self._store.provider_health(names)
        except StoreError:
            return {}

    def _record_outcome(self, name: str, exc: ProviderError) -> None:
        from chalicelib.adapters.providers.router import breaker_outcome

        metrics.provider_error(name, exc.kind)
        try:
            self._store.record_provider_outcome(
                name,
                breaker_outcome(exc),
                _ms(self._clock()),
                self._policy,
                retry_after=exc.retry_after,
                kind=exc.kind,
            )
        except StoreError:
            log.warning("could not record the outcome of a call to %s", name)

    # -- the sync path in webhook mode -----------------------------------------------------------
    def run_within(self, record: GenerationRecord, wait: float) -> GenerationRecord | None:
        """Submit to a provider queue and poll it until ``wait`` runs out (the Lambda sync path).

        Answers the job as it is then: ended (200 or an error), or still running (202) and left
        to the webhook, the poller or the reaper: the same provider job, never a second one.
        None when no queue-capable provider is configured (the caller runs it in-process).
        """
        candidates = self._candidates(record.get("quality", "fast")) if self.webhook_mode else []
        if not candidates:
            return None
        deadline = self._monotonic() + wait
        gen_id = record["id"]
        claimed = self._store.claim_job(gen_id, _ms(self._clock()), LEASE_MS)
        if claimed is None:
            return self._store.get_generation(gen_id) or record
        try:
            job = self._submit(claimed, candidates)
        except ProviderError as exc:
            if exc.kind in ("content_rejected", "bad_request"):
                self._generations.fail_for(claimed, exc)
            else:
                self._requeue(claimed, exc)  # no provider took it now: its lane retries it (202)
            return self._store.get_generation(gen_id) or claimed
        except ApiError as exc:
            self._generations.fail_for(claimed, exc)
            return self._store.get_generation(gen_id) or claimed
        provider = self._providers.get(job.provider) if job is not None and self._providers else None
        if job is None or provider is None:
            return self._store.get_generation(gen_id) or claimed
        delay = self._poll_interval
        size, quality = int(claimed.get("size", 512)), claimed.get("quality", "fast")
        while self._monotonic() + delay < deadline:
            self._sleep(delay)
            outcome = self._finish_from(
                claimed, provider, job, lambda: provider.poll(job, quality=quality, size=size)
            )
            if outcome in ("done", "failed"):
                break
            delay = min(delay * 1.5, 2.0)
        return self._store.get_generation(gen_id) or claimed

    def _requeue(self, record: GenerationRecord, exc: BaseException) -> None:
        """Release a job whose attempt failed and put it back on its lane (fail it if impossible)."""
        if not self._store.release_job(record["id"]):
            return
        try:
            self._queue.enqueue(record["id"], record.get("lane", "free"))
        except Exception:
            log.exception("could not requeue a job", extra={"job_id": record["id"]})
            self._generations.fail_for(record, exc)

    # -- finishing a provider job (webhook, poll, sync path) -------------------------------------
    def _finish_from(
        self,
        record: GenerationRecord,
        provider: QueuedProvider,
        job: ProviderJob,
        produce: Callable[[], ProviderResult | None],
    ) -> FinishOutcome:
        """Read a provider job's outcome once (completion claim) and end the job if it is final."""
        claim = f"completing:{record['id']}"
        if not self._store.set_once(claim, job.id, COMPLETION_CLAIM_S):
            return "busy"
        try:
            result = produce()
        except JobFailed as failed:
            self._store.delete_key(claim)
            metrics.provider_error(provider.name, failed.error.kind)
            log.warning("provider job failed", extra={"job_id": record["id"], "provider": provider.name})
            self._provider_failed(record, failed.error, provider.name)
            return "failed"
        except ProviderError:
            self._store.delete_key(claim)
            log.warning("provider job unreadable for now", exc_info=True, extra={"job_id": record["id"]})
            return "transient"
        except BaseException:
            self._store.delete_key(claim)
            raise
        if result is None:
            self._store.delete_key(claim)
            return "pending"
        latency_ms = (
            max(0.0, self._clock() * 1000 - job.submitted_ms) if job.submitted_ms else result.latency_ms
        )
        try:
            self._generations.complete(record, replace(result, provider=provider.name, latency_ms=latency_ms))
        except ApiError as exc:  # an unusable image: the job fails (refunded)
            self._generations.fail_for(record, exc, provider=provider.name)
            return "failed"
        except BaseException:
            self._store.delete_key(claim)  # e.g. the object store failed: whoever comes next retries
            raise
        return "done"

    def _provider_failed(self, record: GenerationRecord, exc: ProviderError, provider: str) -> None:
        """The provider says the job failed: retry it (a new submission) a few times, then fail it."""
        attempts = int(record.get("attempts", "1") or 1)
        if exc.kind in ("content_rejected", "bad_request") or attempts >= self._max_attempts:
            self._generations.fail_for(record, exc, provider=provider)
        else:
            self._requeue(record, exc)

    # -- webhooks ------------------------------------------------------------------------------
    def receive_webhook(
        self, provider: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> WebhookReply:
        """A provider's completion callback: verified against the raw body, then acted on once."""
        context = {"provider": provider} if provider in WEBHOOK_PROVIDERS else {}
        if valid_job_id(query.get("job")):
            context["job_id"] = query["job"]
        with log_context(**context):
            return self._receive_webhook(provider, headers, query, body)

    def _receive_webhook(
        self, provider: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> WebhookReply:
        if provider not in WEBHOOK_PROVIDERS or not self._providers or self._providers.get(provider) is None:
            return WebhookReply(404, _error("not_found", "No such webhook."))
        queued = self._providers.get(provider)
        assert queued is not None  # noqa: S101 - checked just above, for mypy
        job_id = query.get("job", "")
        record: GenerationRecord | None = None
        try:
            if provider == "replicate":
                delivery = "replicate:" + verify_standard_webhook(
                    self._replicate_secret, headers, body, now=self._clock()
                )
            elif provider == "fal":
                verify_fal_webhook(self._fal_jwks, headers, body, now=self._clock())
                signature = {k.lower(): v for k, v in headers.items()}.get("x-fal-webhook-signature", "")
                delivery = "fal:" + hashlib.sha256(signature.encode()).hexdigest()[:40]
            else:
                record = self._store.get_generation(job_id) if valid_job_id(job_id) else None
                job = ProviderJob.from_json((record or {}).get("provider_job"))
                expected = job.secret_hash if job is not None and job.provider == "runpod" else ""
                verify_job_secret(expected, query.get("token"))
                delivery = "runpod:" + hashlib.sha256(body).hexdigest()[:40]
        except SignatureError as exc:
            log.warning("webhook refused", extra={"provider": provider, "reason": exc.reason})
            return WebhookReply(401, _error("unauthorized", "The webhook signature is not valid."))
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return WebhookReply(400, _error("invalid_request", "The webhook body is not JSON."))
        if not self._store.set_once(f"webhook:{delivery}", "1", REPLAY_TTL_S):
            return WebhookReply(200, {"status": "duplicate"})  # seen before: nothing happens twice
        if record is None and valid_job_id(job_id):
            record = self._store.get_generation(job_id)
        job = ProviderJob.from_json((record or {}).get("provider_job"))
        if (
            record is None
            or record.get("status") in TERMINAL
            or job is None
            or job.provider != provider
            or queued.delivery_job_id(payload) != job.id
        ):
            # Verified, but not (or no longer) about a job waiting on this provider job.
            return WebhookReply(200, {"status": "ignored"})
        if provider == "fal":
            signed_id = {k.lower(): v for k, v in headers.items()}.get("x-fal-webhook-request-id", "")
            if signed_id != job.id:
                return WebhookReply(200, {"status": "ignored"})
        size, quality = int(record.get("size", 512)), record.get("quality", "fast")
        try:
            outcome = self._finish_from(
                record, queued, job, lambda: queued.from_webhook(job, payload, quality=quality, size=size)
            )
        except Exception:
            log.exception("webhook processing failed", extra={"job_id": record["id"], "provider": provider})
            outcome = "transient"
        if outcome == "transient":
            # Let the provider deliver it again (and the poller read it meanwhile).
            self._store.delete_key(f"webhook:{delivery}")
            return WebhookReply(503, _error("internal", "The result could not be processed yet; retry."))
        return WebhookReply(200, {"status": outcome})

    # -- polling fallback and reaper -----------------------------------------------------------
    def poll(self, generation_id: str) -> str:
        """Read a webhook-mode job at its provider (its webhook is late); reschedule if unfinished."""
        record = self._store.get_generation(generation_id)
        job = ProviderJob.from_json((record or {}).get("provider_job"))
        provider = self._providers.get(job.provider) if job is not None and self._providers else None
        if record is None or record.get("status") in TERMINAL or job is None or provider is None:
            self._store.schedule_job("poll", generation_id, None)
            return "gone"
        size, quality = int(record.get("size", 512)), record.get("quality", "fast")
        outcome = self._finish_from(
            record, provider, job, lambda: provider.poll(job, quality=quality, size=size)
        )
        if outcome in ("pending", "transient", "busy"):
            now = self._clock()
            elapsed = max(0.0, now - job.submitted_ms / 1000)
            gap = min(MAX_POLL_GAP_S, max(MIN_POLL_GAP_S, elapsed / 2))
            self._store.schedule_job("poll", generation_id, _ms(now + gap))
        return outcome

    def expire(self, generation_id: str) -> str:
        """A job past its deadline: read its provider job one last time, else fail it (refund)."""
        record = self._store.get_generation(generation_id)
        if record is None:
            self._store.schedule_job("deadline", generation_id, None)
            return "gone"
        if record.get("status") in TERMINAL:
            self._store.schedule_job("deadline", generation_id, None)
            return "ended"
        job = ProviderJob.from_json(record.get("provider_job"))
        provider = self._providers.get(job.provider) if job is not None and self._providers else None
        if job is not None and provider is not None:
            size, quality = int(record.get("size", 512)), record.get("quality", "fast")
            try:
                outcome = self._finish_from(
                    record, provider, job, lambda: provider.poll(job, quality=quality, size=size)
                )
            except Exception:
                log.exception("last poll failed", extra={"job_id": generation_id})
                outcome = "transient"
            if outcome in ("done", "failed"):
                return outcome
            provider.cancel(job)
        log.warning("job past its deadline: failed", extra={"job_id": generation_id})
        self._generations.fail_for(
            record,
            ProviderDown("the job did not finish before its deadline"),
            provider=job.provider if job is not None else None,
        )
        return "expired"

    def reap(self, *, limit: int = 100, budget_s: float = 45.0) -> dict[str, int]:
        """One pass of the scheduled reaper: due polls, expired jobs, due callbacks (bounded)."""
        stop = self._monotonic() + budget_s
        counts: dict[str, int] = {}

        def run(timer: Literal["poll", "deadline", "callback"], action: Callable[[str], str]) -> None:
            for generation_id in self._store.due_jobs(timer, _ms(self._clock()), limit):
                if self._monotonic() > stop:
                    return
                with log_context(job_id=generation_id):
                    try:
                        outcome = action(generation_id)
                    except Exception:
                        log.exception("reaper step failed", extra={"job_id": generation_id, "timer": timer})
                        outcome = "error"
                key = f"{timer}:{outcome}"
                counts[key] = counts.get(key, 0) + 1

        run("poll", self.poll)
        run("deadline", self.expire)
        run("callback", self.deliver_callback)
        if counts:
            log.info("reaper pass", extra={"counts": counts})
        return counts

    # -- client callbacks ----------------------------------------------------------------------
    def deliver_callback(self, generation_id: str) -> str:
        if self.callbacks is None:
            return "skipped"
        return self.callbacks.deliver(generation_id)

    def callback_ready(self, record: GenerationRecord) -> None:
        """A job with a callback URL ended: deliver it soon (its timer is the backstop)."""
        send = getattr(self._queue, "send", None)
        if callable(send):  # SQS: a lane message, so that a worker delivers it now
            send(record["id"], record.get("lane", "batch"), kind="callback")
            return
        threading.Thread(
            target=self._deliver_quietly, args=(record["id"],), name="avatarflow-callback", daemon=True
        ).start()

    def _deliver_quietly(self, generation_id: str) -> None:
        try:
            self.deliver_callback(generation_id)
        except Exception:
            log.exception("callback delivery crashed", extra={"job_id": generation_id})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def start_background_reaper(jobs: AsyncJobs, interval_s: float = 60.0) -> threading.Thread:
    """The embedded stack's reaper: the same pass as the scheduled one, from a daemon thread."""

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            try:
                jobs.reap()
            except Exception:
                log.exception("background reaper pass failed")

    thread = threading.Thread(target=loop, name="avatarflow-reaper", daemon=True)
    thread.start()
    return thread


class ProviderHealthCheck:
    """Whether some provider can serve a quality right now (breaker not open, not cooling down),
    for the sync-or-async decision; read from the shared breakers, kept ``ttl_s`` per container."""

    def __init__(
        self,
        store: StateStore,
        provider: Any,
        *,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._provider = provider
        self._ttl = ttl_s
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, bool]] = {}

    def __call__(self, quality: str) -> bool:
        candidates = getattr(self._provider, "candidates", None)
        tracked_names = set(getattr(self._provider, "provider_names", ()))
        if not callable(candidates):
            return True  # a single provider without breakers
        cached = self._cache.get(quality)
        now = self._monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        names = [p.name for p in candidates(quality)]
        if not names or any(name not in tracked_names for name in names):
            healthy = True  # nothing to route (the call answers why), or an untracked fallback
        else:
            try:
                health = self._store.provider_health(names)
            except StoreError:
                health = {}
            now_ms = _ms(self._clock())
            healthy = any(
                not state.cooling(now_ms) and state.state(now_ms) != "open"
                for state in (health.get(name, ProviderHealth(name)) for name in names)
            )
        self._cache[quality] = (now, healthy)
        return healthy
