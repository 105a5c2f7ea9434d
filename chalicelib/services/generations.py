"""Use cases of custom avatars: request one, run the job, read it back, list the history."""

from __future__ import annotations

import calendar
import contextvars
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalicelib import metrics
from chalicelib.domain.errors import (
    ApiError,
    BudgetExhausted,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
    StoreUnavailable,
)
from chalicelib.domain.identity import Identity
from chalicelib.domain.models import (
    ErrorInfo,
    Generation,
    GenerationPage,
    GenerationRequest,
    Quota,
    QuotaWindow,
)
from chalicelib.domain.styles import get_style
from chalicelib.domain.tiers import Tier, Window
from chalicelib.logs import log_context
from chalicelib.ports import (
    AdmitRequest,
    AdmitResult,
    Counter,
    Finish,
    GenerationRecord,
    ImageProvider,
    JobQueue,
    ObjectStore,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    StateStore,
    StoreError,
    WindowCharge,
)
from chalicelib.services.counters import DAY_STATS_TTL, MONTH_STATS_TTL, job_counters, stats_prefixes

log = logging.getLogger(__name__)

BASE_SIZES = (128, 256, 512)
DEGRADED_FIRST = ("anonymous", "free")  # tiers that fall back to the gallery at 100 % of budget
DAY_TTL = 3 * 86400
MONTH_TTL = 40 * 86400
LEASE_MS = 120_000
TYPICAL_JOB_SECONDS = 4.0

Clock = Callable[[], float]
RemoteRunner = Callable[[GenerationRecord, float], GenerationRecord | None]


def normalize_prompt(prompt: str) -> str:
    """The cache's view of a prompt: Unicode NFC, case-folded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", prompt)).strip().casefold()


def request_hash(req: GenerationRequest) -> str:
    """Identical requests (after normalisation) share this hash, and so their result."""
    canonical = json.dumps(
        [req.style, normalize_prompt(req.prompt), req.variation, req.size, req.quality], ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def window_period(window: Window, now: float) -> tuple[str, int]:
    """(label, reset epoch) of the fixed window that contains ``now``: UTC hours, days, months."""
    if window.name == "month":
        moment = datetime.fromtimestamp(now, UTC)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        return f"m{moment.year}{moment.month:02d}", calendar.timegm((year, month, 1, 0, 0, 0))
    seconds = window.seconds
    period = int(now) // seconds
    return f"{window.name[0]}{period}", (period + 1) * seconds


def spend_keys(now: float) -> tuple[str, str]:
    """The store counters of today's and this month's spend (USD), in UTC."""
    moment = datetime.fromtimestamp(now, UTC)
    return f"spend:day:{moment:%Y%m%d}", f"spend:month:{moment:%Y%m}"


@dataclass(frozen=True)
class Budget:
    """The spend guard's limits: anonymous and free stop at 100 %, the others at the hard cap."""

    daily_usd: float = 25.0
    monthly_usd: float = 500.0
    hard_cap_ratio: float = 1.5

    def limits_for(self, tier: str) -> tuple[float, float]:
        ratio = 1.0 if tier in DEGRADED_FIRST else self.hard_cap_ratio
        return self.daily_usd * ratio, self.monthly_usd * ratio


def sizes_for(size: int) -> tuple[int, ...]:
    return (*BASE_SIZES, 1024) if size == 1024 else BASE_SIZES


@dataclass(frozen=True)
class Prefer:
    """The ``Prefer`` header: ``respond-async`` or ``wait=N`` seconds."""

    respond_async: bool = False
    wait: float | None = None

    @classmethod
    def parse(cls, header: str | None) -> Prefer:
        respond_async, wait = False, None
        for part in (header or "").split(","):
            directive = part.strip().lower()
            if directive == "respond-async":
                respond_async = True
            elif directive.startswith("wait="):
                try:
                    wait = max(0.0, float(directive[5:]))
                except ValueError:
                    raise InvalidRequest("Prefer: wait must be a number of seconds.") from None
        return cls(respond_async, wait)


@dataclass
class Accepted:
    """What ``request_generation`` answers: the generation and how the route should send it."""

    generation: Generation
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class GenerationService:
    """Requests, runs and reads custom avatar generations."""

    def __init__(
        self,
        *,
        store: StateStore,
        objects: ObjectStore,
        queue: JobQueue,
        provider: ImageProvider,
        tiers: dict[str, Tier],
        suggest: Callable[[str, str], list[dict[str, object]]],
        rate_per_minute: int = 120,
        default_wait: float = 8.0,
        max_wait: float = 20.0,
        cache_ttl: int = 7 * 24 * 3600,
        job_deadline: int = 900,
        sync_threads: int = 4,
        budget: Budget | None = None,
        clock: Clock = time.time,
        after_spend: Callable[[], None] | None = None,
        sync_qualities: tuple[str, ...] = ("fast",),
        sync_max_depth: int = 25,
        provider_healthy: Callable[[str], bool] | None = None,
        after_finish: Callable[[GenerationRecord], None] | None = None,
    ) -> None:
        self._store = store
        self._objects = objects
        self._queue = queue
        self._provider = provider
        self._tiers = tiers
        self._suggest = suggest
        self._rate = rate_per_minute
        self._default_wait = default_wait
        self._max_wait = max_wait
        self._cache_ttl = cache_ttl
        self._deadline = job_deadline
        self._clock = clock
        self._budget = budget or Budget()
        self._after_spend = after_spend  # e.g. the budget alerts' check, off the request path
        self._executor = ThreadPoolExecutor(max_workers=sync_threads, thread_name_prefix="avatarflow-sync")
        self._sync_slots = threading.BoundedSemaphore(sync_threads)
        # Sync or async (see _sync_allowed): only these qualities, a lane not backed up beyond this
        # depth, and a provider that is healthy for the quality.
        self._sync_qualities = sync_qualities
        self._sync_max_depth = sync_max_depth
        self._provider_healthy = provider_healthy
        self._after_finish = after_finish  # e.g. deliver the client's callback (services.callbacks)
        self._remote_runner: RemoteRunner | None = None

    @property
    def job_deadline(self) -> int:
        """Seconds from admission by which every job has ended (the reaper enforces it)."""
        return self._deadline

    def use_remote_runner(self, runner: RemoteRunner | None) -> None:
        """Run the sync path through ``runner`` (webhook mode: submit to the provider's queue API and
        poll it within the wait) instead of a thread of this process. The runner answers None
        where it cannot serve a job (no queue-capable provider): the thread path serves it then."""
        self._remote_runner = runner

    # -- request -------------------------------------------------------------------------------
    def request_generation(
        self, identity: Identity, req: GenerationRequest, *, idempotency_key: str | None, prefer: Prefer
    ) -> Accepted:
        """Admit a request in one store call, then answer from cache, run it, or queue it."""
        result, headers = self.admit(identity, req, idempotency_key=idempotency_key)
        if result.generation is None:  # every accepting outcome carries the record
            raise StoreError("the store accepted a request without returning its record")
        if result.outcome == "created":
            return self._dispatch(result.generation, prefer, headers)
        if result.outcome == "replayed" and self._never_started(result.generation):
            # The first attempt's reply was lost after the store admitted it (e.g. a timeout on
            # the way back), so nothing dispatched the job. Queue it now; the claim makes a
            # duplicate harmless, and the client's retry is not charged again.
            self._enqueue(result.generation, headers)
        if result.generation.get("status") in ("queued", "running") and not prefer.respond_async:
            # Joined an identical request in flight (or replayed one): wait for it like our own.
            return self._answer(self._await(result.generation, self._wait_for(prefer)), headers)
        return self._answer(result.generation, headers)

    def admit(
        self,
        identity: Identity,
        req: GenerationRequest,
        *,
        idempotency_key: str | None = None,
        lane: str | None = None,
        extra: dict[str, str] | None = None,
        rate: tuple[str, int] | None = None,
    ) -> tuple[AdmitResult, dict[str, str]]:
        """Check entitlements and admit one request in one store call; raises the refusals (429,
        503, 409). ``lane`` overrides the tier's (batches), ``extra`` adds record fields, and
        ``rate`` replaces the general request rate counter (its key and limit: a batch counts
        once, not once per item)."""
        tier = self._tiers[identity.tier]
        self._check_entitlements(identity, tier, req)
        now = self._clock()
        gen_id = "gen_" + secrets.token_urlsafe(15)
        req_hash = request_hash(req)
        lane = lane or tier.lane
        record: dict[str, str] = {
            "id": gen_id,
            "owner": identity.key,
            "style": req.style,
            "prompt": req.prompt,
            "variation": str(req.variation),
            "size": str(req.size),
            "quality": req.quality,
            "lane": lane,
            "tier": tier.name,
            "created_at": iso(now),
            "request_hash": req_hash,
        }
        if req.callback_url:
            record["callback_url"] = req.callback_url
        record.update(extra or {})
        minute = int(now) // 60
        admit = AdmitRequest(
            identity_key=identity.key,
            generation_id=gen_id,
            request_hash=req_hash,
            record=record,
            windows=self._window_charges(identity, tier, now),
            rate_key=rate[0] if rate else f"rl:{identity.key}:{minute}",
            rate_limit=rate[1] if rate else self._rate,
            rate_reset_at=(minute + 1) * 60,
            now_ms=int(now * 1000),
            deadline_ms=int((now + self._deadline) * 1000),
            idempotency_key=idempotency_key,
            spend_keys=spend_keys(now),
            spend_limits=self._budget.limits_for(tier.name),
            stats_prefixes=tuple(zip(stats_prefixes(now), (DAY_STATS_TTL, MONTH_STATS_TTL), strict=True)),
        )
        try:
            result = self._store.admit_generation(admit)
        except StoreError as exc:
            # Quotas fail closed; the gallery (read from the object store) still offers a way out.
            raise StoreUnavailable(
                "The service cannot check quotas right now; pick from the gallery or retry shortly.",
                headers={"Retry-After": "5"},
                extra={"suggestions": self._suggest(req.style, req.prompt)},
            ) from exc
        metrics.admitted(result.outcome)
        headers = self._rate_headers(result)
        self._raise_for_refusal(result, req, headers)
        return result, headers

    @staticmethod
    def _never_started(record: GenerationRecord) -> bool:
        return record.get("status") == "queued" and not record.get("attempts") and not record.get("leader")

    def _wait_for(self, prefer: Prefer) -> float:
        return self._default_wait if prefer.wait is None else min(prefer.wait, self._max_wait)

    def _await(self, record: GenerationRecord, wait: float) -> GenerationRecord:
        """Poll the store until the generation ends or ``wait`` seconds pass."""
        deadline = time.monotonic() + wait
        delay = 0.05
        while time.monotonic() < deadline:
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            latest = self._store.get_generation(record["id"])
            if latest is None:
                return record
            record = latest
            if record.get("status") in ("succeeded", "failed"):
                break
            delay = min(delay * 1.5, 0.5)
        return record

    def check_entitlements(self, identity: Identity, req: GenerationRequest) -> None:
        """Raise the 400/403 that ``req`` would get from this identity's tier (no store call)."""
        self._check_entitlements(identity, self._tiers[identity.tier], req)

    def _check_entitlements(self, identity: Identity, tier: Tier, req: GenerationRequest) -> None:
        style = get_style(req.style)
        if style is None:
            raise InvalidRequest(
                f"Unknown style {req.style!r}; see GET /v1/styles.",
                details=[{"field": "style", "message": "unknown style"}],
            )
        if req.quality not in style.qualities or req.quality not in tier.qualities:
            raise Forbidden(f"The {tier.name} tier does not include quality {req.quality!r}.")
        if req.size not in tier.sizes:
            raise Forbidden(f"The {tier.name} tier does not include size {req.size}.")
        if req.callback_url and identity.kind != "api_key":
            raise Forbidden("callback_url is available to enterprise API clients only.")

    def _window_charges(self, identity: Identity, tier: Tier, now: float) -> list[WindowCharge]:
        charges = []
        for window in identity.windows if identity.windows is not None else tier.windows:
            label, reset_at = window_period(window, now)
            charges.append(WindowCharge(window.name, f"q:{identity.key}:{label}", window.limit, reset_at))
        return charges

    @staticmethod
    def _rate_headers(result: AdmitResult) -> dict[str, str]:
        headers = {}
        if result.limit is not None:
            headers["X-RateLimit-Limit"] = str(result.limit)
            headers["X-RateLimit-Remaining"] = str(result.remaining or 0)
            headers["X-RateLimit-Reset"] = str(result.reset_at or 0)
        return headers

    def _raise_for_refusal(
        self, result: AdmitResult, req: GenerationRequest, headers: dict[str, str]
    ) -> None:
        if result.outcome in ("quota_exceeded", "rate_limited"):
            retry = {**headers, "Retry-After": str(result.retry_after or 1)}
            suggestions = {"suggestions": self._suggest(req.style, req.prompt)}
            if result.outcome == "quota_exceeded":
                raise QuotaExceeded(
                    "You have used every generation of your tier for now; pick from the gallery or retry "
                    "after the reset.",
                    headers=retry,
                    extra=suggestions,
                )
            raise RateLimited("Too many requests; slow down.", headers=retry, extra=suggestions)
        if result.outcome == "budget_exhausted":
            raise BudgetExhausted(
                "Custom avatars are paused for now; pick one from the gallery instead.",
                headers={**headers, "Retry-After": "3600"},
                extra={"suggestions": self._suggest(req.style, req.prompt)},
            )
        if result.outcome == "idempotency_conflict":
            raise Conflict(
                "This Idempotency-Key was used with a different request body.",
                headers=headers,
            )

    def _sync_allowed(self, record: GenerationRecord) -> bool:
        """Answer within the wait only for a quick quality, a lane that is not backed up and a
        provider that is healthy; anything else is queued at once (202)."""
        if record.get("quality") not in self._sync_qualities:
            return False
        if self._queue.depth(record.get("lane", "free")) > self._sync_max_depth:
            return False
        return self._provider_healthy is None or self._provider_healthy(record.get("quality", "fast"))

    def _dispatch(self, record: GenerationRecord, prefer: Prefer, headers: dict[str, str]) -> Accepted:
        gen_id = record["id"]
        wait = self._wait_for(prefer)
        if prefer.respond_async or wait <= 0 or not self._sync_allowed(record):
            self._enqueue(record, headers)
            return self._answer(record, headers)
        if self._remote_runner is not None:
            try:
                latest = self._remote_runner(record, wait)
            except Exception:
                # Admitted and charged: never leave it waiting for the reaper. The lane runs it;
                # the claim lease and the stored provider job keep that from running it twice.
                log.exception("sync path failed; handing the job to its lane", extra={"job_id": gen_id})
                self._enqueue(record, headers)
                return self._answer(record, headers)
            if latest is not None:
                return self._answer(latest, headers)
        if not self._sync_slots.acquire(blocking=False):
            self._enqueue(record, headers)
            return self._answer(record, headers)

        def run_and_release() -> None:
            try:
                self.run_job(gen_id)
            finally:
                self._sync_slots.release()

        try:
            # The job's log lines keep the request's context (request id, caller's kind).
            future = self._executor.submit(contextvars.copy_context().run, run_and_release)
        except RuntimeError:  # executor shut down: hand the job to the lanes
            self._sync_slots.release()
            self._enqueue(record, headers)
            return self._answer(record, headers)
        try:
            future.result(timeout=wait)
        except TimeoutError:
            # The same call goes on and finishes the job: never a second provider call.
            if getattr(self._queue, "durable", False):
                # A Lambda may be frozen once it has answered: the lane takes the job over if (and
                # only if) this call's lease runs out unfinished (see services.jobs.process).
                try:
                    self._queue.enqueue(gen_id, record["lane"])
                except Exception:
                    log.warning("could not hand a running job to its lane", extra={"job_id": gen_id})
            return self._answer({**record, "status": "running"}, headers)
        except StoreError:
            # run_job catches everything after its claim, so the claim itself failed: nothing ran.
            log.warning(
                "could not claim the job in the request; handing it to its lane", extra={"job_id": gen_id}
            )
            self._enqueue(record, headers)
            return self._answer(record, headers)
        finished = self._store.get_generation(gen_id) or record
        return self._answer(finished, headers)

    def _enqueue(self, record: GenerationRecord, headers: dict[str, str]) -> None:
        try:
            self._queue.enqueue(record["id"], record["lane"])
        except Exception as exc:
            # Nothing lost: a job that cannot be queued fails now and is refunded.
            log.exception("enqueue failed", extra={"job_id": record["id"]})
            self._fail(record, "internal", "The job could not be queued.")
            # A 503 like any other of this route: rate headers, Retry-After and suggestions.
            raise ProviderUnavailable(
                "The generation could not be queued; it was not charged.",
                headers={**headers, "Retry-After": "30"},
                extra={"suggestions": self._suggest(record["style"], record.get("prompt", ""))},
            ) from exc

    def _answer(self, record: GenerationRecord, headers: dict[str, str]) -> Accepted:
        generation = self.to_generation(record)
        if generation.status == "succeeded":
            return Accepted(generation, 200, headers)
        if generation.status == "failed":
            self._raise_failed(generation, headers)
        retry_after = max(1, round(generation.eta_seconds or 1))
        return Accepted(
            generation,
            202,
            {**headers, "Location": f"/v1/generations/{generation.id}", "Retry-After": str(retry_after)},
        )

    def _raise_failed(self, generation: Generation, headers: dict[str, str]) -> None:
        error = generation.error or ErrorInfo(code="internal", message="The generation failed.")
        if error.code == "content_rejected":
            raise InvalidRequest(
                "The request was refused by the provider's content policy; it was not charged.",
                details=[{"field": "prompt", "message": error.message}],
                headers=headers,
            )
        raise ProviderUnavailable(
            "No image provider could make this avatar right now; it was not charged. Pick one from the "
            "gallery or retry later.",
            headers={**headers, "Retry-After": "30"},
            extra={"suggestions": self._suggest(generation.style, generation.prompt)},
        )

    # -- the job -------------------------------------------------------------------------------
    def run_job(self, generation_id: str, *, force: bool = False) -> None:
        """Claim the job, make the image, store every size, and finish (or fail and refund)."""
        with log_context(job_id=generation_id):
            now = self._clock()
            record = self._store.claim_job(generation_id, int(now * 1000), LEASE_MS, force=force)
            if record is None:
                return  # already running elsewhere, or already ended: nothing to do twice
            self.execute(record)

    def execute(self, record: GenerationRecord, *, final: bool = True) -> bool:
        """Make the image of a claimed job here and finish it. A failure fails the job (refunded)
        unless ``final`` is False and a retry may pass: the job is then released, to be claimed
        again when its lane redelivers it, and False is returned."""
        generation_id = record["id"]
        with log_context(job_id=generation_id):
            try:
                self._make(record)
            except ProviderError as exc:
                if not final and exc.kind not in ("content_rejected", "bad_request"):
                    log.warning(
                        "provider failed; retrying later", extra={"job_id": generation_id, "kind": exc.kind}
                    )
                    return not self._store.release_job(generation_id)
                self.fail_for(record, exc)
            except ApiError as exc:
                self.fail_for(record, exc)
            except Exception as exc:
                if not final:
                    log.warning(
                        "job attempt crashed; retrying later", exc_info=True, extra={"job_id": generation_id}
                    )
                    return not self._store.release_job(generation_id)
                log.exception("job crashed", extra={"job_id": generation_id})
                self.fail_for(record, exc)
            return True

    def fail_for(self, record: GenerationRecord, exc: BaseException, *, provider: str | None = None) -> None:
        """End a job as failed (refunded), with the error code its failure deserves."""
        if isinstance(exc, ProviderError):
            code = "content_rejected" if exc.kind == "content_rejected" else "provider_unavailable"
            log.warning("provider failed", extra={"job_id": record["id"], "kind": exc.kind})
            failed = (provider,) if provider and code != "content_rejected" else self._failed_providers(exc)
            self._fail(
                record,
                code,
                str(exc) if code == "content_rejected" else "No provider could serve it.",
                failed_providers=failed,
            )
        elif isinstance(exc, ApiError):
            self._fail(record, exc.code, exc.message)
        else:
            self._fail(record, "internal", "The generation failed unexpectedly.")

    def fail(self, record: GenerationRecord, code: str, message: str) -> None:
        """End a job as failed with this error (refunded), e.g. past its deadline."""
        self._fail(record, code, message)

    def provider_request(self, record: GenerationRecord) -> ProviderRequest:
        """What the provider is asked to make for a job."""
        style = get_style(record["style"])
        if style is None:
            raise InvalidRequest("unknown style")
        return ProviderRequest(
            style_id=style.id,
            prompt=style.prompt_for(record["prompt"]),
            user_prompt=record["prompt"],
            variation=int(record["variation"]),
            seed=int(record["request_hash"][:8], 16),
            size=int(record["size"]),
            quality=record["quality"],
        )

    def _make(self, record: GenerationRecord) -> None:
        result = self._provider.generate(self.provider_request(record))
        with log_context(provider=result.provider):
            self.complete(record, result)

    def complete(self, record: GenerationRecord, result: ProviderResult) -> bool:
        """The image pipeline, every size stored, and the job finished as succeeded (with its
        spend and stats); False if the job had already ended. Raises ``ProviderUnavailable``
        for an unusable image."""
        from chalicelib.images import ImageRejected, process_image

        try:
            renditions = process_image(
                result.picture if result.picture is not None else result.image, sizes_for(int(record["size"]))
            )
        except ImageRejected as exc:
            raise ProviderUnavailable(f"The provider returned an unusable image ({exc.reason}).") from exc
        for rendition in renditions:
            self._objects.put(rendition.key, rendition.data, rendition.content_type)
        ended = self._store.finish_generation(
            Finish(
                generation_id=record["id"],
                status="succeeded",
                completed_at=iso(self._clock()),
                request_hash=record["request_hash"],
                images={str(r.size): r.key for r in renditions},
                provider=result.provider,
                cache_ttl=self._cache_ttl,
                counters=[
                    *self._spend_counters(result.provider, record, result.cost_usd),
                    *job_counters(
                        self._clock(),
                        status="succeeded",
                        tier=record.get("tier", "unknown"),
                        provider=result.provider,
                        latency_ms=result.latency_ms,
                    ),
                ],
                fields={
                    "model": result.model,
                    "provider_latency_ms": f"{result.latency_ms:.1f}",
                    "cost_usd": f"{result.cost_usd:.6f}",
                },
            )
        )
        if result.cost_usd > 0 and self._after_spend is not None:
            try:
                self._after_spend()
            except Exception:
                log.exception("the after-spend hook failed", extra={"job_id": record["id"]})
        if ended:
            metrics.generation_completed(result.provider, result.latency_ms, result.cost_usd)
            self._finished(record)
        return ended

    def _finished(self, record: GenerationRecord) -> None:
        if self._after_finish is not None and record.get("callback_url"):
            try:
                self._after_finish(record)
            except Exception:
                log.exception("the after-finish hook failed", extra={"job_id": record["id"]})

    def _spend_counters(self, provider: str, record: GenerationRecord, cost: float) -> list[Counter]:
        """What a finished job adds to the spend counters, in the same call that finishes it."""
        if cost <= 0:
            return []
        day, month = spend_keys(self._clock())
        tier = record.get("tier", "unknown")
        return [
            Counter(day, cost, DAY_TTL),
            Counter(f"{day}:provider:{provider}", cost, DAY_TTL),
            Counter(f"{day}:tier:{tier}", cost, DAY_TTL),
            Counter(month, cost, MONTH_TTL),
            Counter(f"{month}:provider:{provider}", cost, MONTH_TTL),
            Counter(f"{month}:tier:{tier}", cost, MONTH_TTL),
        ]

    def _fail(
        self, record: GenerationRecord, code: str, message: str, *, failed_providers: tuple[str, ...] = ()
    ) -> None:
        ended = self._store.finish_generation(
            Finish(
                generation_id=record["id"],
                status="failed",
                completed_at=iso(self._clock()),
                request_hash=record.get("request_hash", ""),
                error_code=code,
                error_message=message,
                counters=job_counters(
                    self._clock(),
                    status="failed",
                    tier=record.get("tier", "unknown"),
                    failed_providers=failed_providers,
                ),
            )
        )
        if ended:
            self._finished(record)

    def _failed_providers(self, exc: ProviderError) -> tuple[str, ...]:
        """The providers a failed job counts against in the stats (the router names each one)."""
        if exc.kind == "content_rejected":
            return ()  # the provider worked: it refused the prompt
        attempts = getattr(exc, "attempts", None)
        if attempts is not None:
            return tuple(a.provider for a in attempts if getattr(a, "error_kind", None))
        return (self._provider.name,)

    # -- reads ---------------------------------------------------------------------------------
    def get_generation(self, identity: Identity, generation_id: str) -> Generation:
        """One generation of the caller's; another identity's answers 404 like a missing one."""
        record = self._store.get_generation(generation_id) if len(generation_id) <= 64 else None
        if record is None or record.get("owner") != identity.key:
            raise NotFound("No such generation.")
        return self.to_generation(record)

    def list_generations(self, identity: Identity, limit: int, cursor: str | None) -> GenerationPage:
        """The caller's generations, newest first, with an opaque cursor."""
        records, next_cursor = self._store.list_generations(identity.key, limit, decode_cursor(cursor))
        return GenerationPage(
            items=[self.to_generation(r) for r in records],
            next_cursor=encode_cursor(next_cursor) if next_cursor else None,
        )

    def quota(self, identity: Identity) -> Quota:
        """The caller's remaining generations in each window of their tier."""
        tier = self._tiers[identity.tier]
        charges = self._window_charges(identity, tier, self._clock())
        counts = self._store.quota_counts([c.key for c in charges])
        windows = [
            QuotaWindow(
                window=c.name,
                limit=c.limit,
                remaining=max(0, c.limit - n),
                reset=c.reset_at,
            )
            for c, n in zip(charges, counts, strict=True)
        ]
        return Quota(tier=tier.name, limits=windows)

    def to_generation(self, record: GenerationRecord) -> Generation:
        status = record.get("status", "queued")
        keys = json.loads(record["images"]) if record.get("images") else None
        images = {size: self._objects.public_url(key) for size, key in keys.items()} if keys else None
        error = None
        if status == "failed":
            error = ErrorInfo(
                code=record.get("error_code") or "internal",
                message=record.get("error_message") or "The generation failed.",
            )
        eta = None
        if status in ("queued", "running"):
            eta = TYPICAL_JOB_SECONDS * (1 + self._queue.depth(record.get("lane", "free")))
        return Generation(
            id=record["id"],
            status=status,
            style=record["style"],
            prompt=record.get("prompt", ""),
            variation=int(record.get("variation", 0)),
            size=int(record.get("size", 512)),
            quality=record.get("quality", "fast"),
            cached=record.get("cached") == "1",
            images=images if status == "succeeded" else None,
            provider=record.get("provider") or None,
            error=error,
            lane=record.get("lane", "free"),
            eta_seconds=eta,
            created_at=record["created_at"],
            completed_at=record.get("completed_at") or None,
        )

    def recover_open_jobs(self) -> int:
        """Queue again every job the store still holds open (after a restart of the worker)."""
        count = 0
        for generation_id in self._store.open_jobs():
            record = self._store.get_generation(generation_id)
            if record and record.get("status") in ("queued", "running"):
                if record.get("provider_job"):
                    continue  # at a provider (webhook mode): its webhook or the reaper's poll ends it
                if record["status"] == "running":
                    # Its worker died with the old process: a zero lease lets the next claim take it.
                    self._store.claim_job(generation_id, int(self._clock() * 1000), 0, force=True)
                self._queue.enqueue(generation_id, record.get("lane", "free"))
                count += 1
        return count


def encode_cursor(cursor: tuple[int, str]) -> str:
    import base64

    return base64.urlsafe_b64encode(f"{cursor[0]}:{cursor[1]}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    import base64
    import binascii

    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, _, gen_id = raw.partition(":")
        if not gen_id.startswith("gen_") or len(gen_id) > 64:
            raise ValueError
        return int(score), gen_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(
            "The cursor is not valid.", details=[{"field": "cursor", "message": "invalid"}]
        ) from None
