"""The ports: the small interfaces the use cases depend on, one module per capability.

``bootstrap`` picks one adapter per port from the settings; every port has a production adapter
and an embedded default, and ``tests/contract`` runs one suite against both.

| module            | port                                                    |
|-------------------|---------------------------------------------------------|
| ``state``         | the state store: the store ports below, and ``ping``    |
| ``generations``   | generation records and their atomic moves               |
| ``counters``      | quota, stats and spend counters, read in one call       |
| ``timers``        | deadlines, late-webhook polls, client callbacks due     |
| ``keyvalue``      | small documents and once-only markers                   |
| ``breakers``      | provider circuit breakers shared by every Lambda        |
| ``api_keys``      | enterprise API keys (keyed hashes)                      |
| ``holders``       | who still serves each stored image (erasure)            |
| ``audit``         | the admin API's audit trail                             |
| ``objects``       | images and documents with public URLs                   |
| ``gallery``       | the stored gallery: index, shards by style, publishing  |
| ``images``        | the image pipeline: verify, square, sizes, WebP         |
| ``queue``         | the lanes                                               |
| ``providers``     | image providers                                         |
| ``provider_queues`` | providers' queue APIs (webhook mode)                  |
| ``sources``       | gallery sources                                         |
| ``outbound``      | client callbacks, picture downloads, signing keys       |
| ``push``          | messages to WebSocket connections                       |
| ``watches``       | who watches which generation (connections, watches)     |
| ``alerts``        | budget alert channels                                   |
| ``clock``         | time                                                    |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.ports.alerts import AlertChannel, AlertDeliveryError
    from chalicelib.ports.api_keys import ApiKeyRecord, ApiKeyStore
    from chalicelib.ports.audit import AuditLog
    from chalicelib.ports.breakers import (
        BreakerOutcome,
        BreakerPolicy,
        BreakerState,
        ProviderBreakers,
        ProviderHealth,
        breaker_outcome,
    )
    from chalicelib.ports.clock import Clock
    from chalicelib.ports.counters import Counters
    from chalicelib.ports.errors import StoreError
    from chalicelib.ports.generations import (
        AdmitOutcome,
        AdmitRequest,
        AdmitResult,
        Counter,
        Erased,
        Finish,
        Finished,
        FollowersEnded,
        GenerationStore,
        WindowCharge,
    )
    from chalicelib.ports.holders import ImageHolders
    from chalicelib.ports.images import ImagePipeline, ImageRejected, Rendition
    from chalicelib.ports.keyvalue import KeyValueStore
    from chalicelib.ports.objects import (
        IMMUTABLE_CACHE_CONTROL,
        ExpiringObjects,
        ObjectStore,
        ObjectStoreError,
    )
    from chalicelib.ports.outbound import (
        DeliveryFailed,
        DeliveryRefused,
        ImageFetcher,
        SigningKeys,
        WebhookKeys,
        WebhookSender,
    )
    from chalicelib.ports.provider_queues import JobFailed, Pending, ProviderQueues, QueuedProvider
    from chalicelib.ports.providers import (
        ContentRejected,
        ImageProvider,
        ProviderAuthError,
        ProviderBadRequest,
        ProviderDown,
        ProviderError,
        ProviderMisconfigured,
        ProviderRequest,
        ProviderResult,
        ProviderThrottled,
        RetryableProviderError,
    )
    from chalicelib.ports.push import ConnectionGone, PushChannel, PushError
    from chalicelib.ports.queue import JobQueue, MessageKind, QueueError
    from chalicelib.ports.sources import (
        GallerySource,
        SourceAuthError,
        SourceError,
        SourceItem,
        SourceRateLimited,
        SourceUnavailable,
    )
    from chalicelib.ports.state import StateStore
    from chalicelib.ports.timers import JobTimers, TimerKind
    from chalicelib.ports.watches import Connection, Watcher, WatchOutcome, WatchRegistry, WatchResult

__all__ = [
    "IMMUTABLE_CACHE_CONTROL",
    "AdmitOutcome",
    "AdmitRequest",
    "AdmitResult",
    "AlertChannel",
    "AlertDeliveryError",
    "ApiKeyRecord",
    "ApiKeyStore",
    "AuditLog",
    "BreakerOutcome",
    "BreakerPolicy",
    "BreakerState",
    "Clock",
    "Connection",
    "ConnectionGone",
    "ContentRejected",
    "Counter",
    "Counters",
    "DeliveryFailed",
    "DeliveryRefused",
    "Erased",
    "ExpiringObjects",
    "Finish",
    "Finished",
    "FollowersEnded",
    "GallerySource",
    "GenerationStore",
    "ImageFetcher",
    "ImageHolders",
    "ImagePipeline",
    "ImageProvider",
    "ImageRejected",
    "JobFailed",
    "JobQueue",
    "JobTimers",
    "KeyValueStore",
    "MessageKind",
    "ObjectStore",
    "ObjectStoreError",
    "Pending",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderBreakers",
    "ProviderDown",
    "ProviderError",
    "ProviderHealth",
    "ProviderMisconfigured",
    "ProviderQueues",
    "ProviderRequest",
    "ProviderResult",
    "ProviderThrottled",
    "PushChannel",
    "PushError",
    "QueueError",
    "QueuedProvider",
    "Rendition",
    "RetryableProviderError",
    "SigningKeys",
    "SourceAuthError",
    "SourceError",
    "SourceItem",
    "SourceRateLimited",
    "SourceUnavailable",
    "StateStore",
    "StoreError",
    "TimerKind",
    "WatchOutcome",
    "WatchRegistry",
    "WatchResult",
    "Watcher",
    "WebhookKeys",
    "WebhookSender",
    "WindowCharge",
    "breaker_outcome",
]

# Where each name lives, imported on first use (PEP 562): importing one port module (as the entry
# points do for an error class) must not import them all on a Lambda cold start.
_LAZY = {
    "Pending": "chalicelib.ports.provider_queues",
    "ConnectionGone": "chalicelib.ports.push",
    "PushChannel": "chalicelib.ports.push",
    "PushError": "chalicelib.ports.push",
    "Connection": "chalicelib.ports.watches",
    "Watcher": "chalicelib.ports.watches",
    "WatchOutcome": "chalicelib.ports.watches",
    "WatchRegistry": "chalicelib.ports.watches",
    "WatchResult": "chalicelib.ports.watches",
    "AdmitOutcome": "chalicelib.ports.generations",
    "AdmitRequest": "chalicelib.ports.generations",
    "AdmitResult": "chalicelib.ports.generations",
    "AlertChannel": "chalicelib.ports.alerts",
    "AlertDeliveryError": "chalicelib.ports.alerts",
    "ApiKeyRecord": "chalicelib.ports.api_keys",
    "ApiKeyStore": "chalicelib.ports.api_keys",
    "AuditLog": "chalicelib.ports.audit",
    "BreakerOutcome": "chalicelib.ports.breakers",
    "BreakerPolicy": "chalicelib.ports.breakers",
    "BreakerState": "chalicelib.ports.breakers",
    "Clock": "chalicelib.ports.clock",
    "ContentRejected": "chalicelib.ports.providers",
    "Counter": "chalicelib.ports.generations",
    "Counters": "chalicelib.ports.counters",
    "DeliveryFailed": "chalicelib.ports.outbound",
    "DeliveryRefused": "chalicelib.ports.outbound",
    "Erased": "chalicelib.ports.generations",
    "ExpiringObjects": "chalicelib.ports.objects",
    "Finish": "chalicelib.ports.generations",
    "Finished": "chalicelib.ports.generations",
    "FollowersEnded": "chalicelib.ports.generations",
    "GallerySource": "chalicelib.ports.sources",
    "GenerationStore": "chalicelib.ports.generations",
    "IMMUTABLE_CACHE_CONTROL": "chalicelib.ports.objects",
    "ImageFetcher": "chalicelib.ports.outbound",
    "ImageHolders": "chalicelib.ports.holders",
    "ImagePipeline": "chalicelib.ports.images",
    "ImageProvider": "chalicelib.ports.providers",
    "ImageRejected": "chalicelib.ports.images",
    "JobFailed": "chalicelib.ports.provider_queues",
    "JobQueue": "chalicelib.ports.queue",
    "JobTimers": "chalicelib.ports.timers",
    "KeyValueStore": "chalicelib.ports.keyvalue",
    "MessageKind": "chalicelib.ports.queue",
    "ObjectStore": "chalicelib.ports.objects",
    "ObjectStoreError": "chalicelib.ports.objects",
    "ProviderAuthError": "chalicelib.ports.providers",
    "ProviderBadRequest": "chalicelib.ports.providers",
    "ProviderBreakers": "chalicelib.ports.breakers",
    "ProviderDown": "chalicelib.ports.providers",
    "ProviderError": "chalicelib.ports.providers",
    "ProviderHealth": "chalicelib.ports.breakers",
    "ProviderMisconfigured": "chalicelib.ports.providers",
    "ProviderQueues": "chalicelib.ports.provider_queues",
    "ProviderRequest": "chalicelib.ports.providers",
    "ProviderResult": "chalicelib.ports.providers",
    "ProviderThrottled": "chalicelib.ports.providers",
    "QueueError": "chalicelib.ports.queue",
    "QueuedProvider": "chalicelib.ports.provider_queues",
    "Rendition": "chalicelib.ports.images",
    "RetryableProviderError": "chalicelib.ports.providers",
    "SigningKeys": "chalicelib.ports.outbound",
    "SourceAuthError": "chalicelib.ports.sources",
    "SourceError": "chalicelib.ports.sources",
    "SourceItem": "chalicelib.ports.sources",
    "SourceRateLimited": "chalicelib.ports.sources",
    "SourceUnavailable": "chalicelib.ports.sources",
    "StateStore": "chalicelib.ports.state",
    "StoreError": "chalicelib.ports.errors",
    "TimerKind": "chalicelib.ports.timers",
    "WebhookKeys": "chalicelib.ports.outbound",
    "WebhookSender": "chalicelib.ports.outbound",
    "WindowCharge": "chalicelib.ports.generations",
    "breaker_outcome": "chalicelib.ports.breakers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
