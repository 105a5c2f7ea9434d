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
| ``objects``       | images and documents with public URLs                   |
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

from chalicelib.ports.alerts import AlertChannel, AlertDeliveryError
from chalicelib.ports.api_keys import ApiKeyRecord, ApiKeyStore
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
    Finish,
    GenerationStore,
    WindowCharge,
)
from chalicelib.ports.images import ImagePipeline, ImageRejected, Rendition
from chalicelib.ports.keyvalue import KeyValueStore
from chalicelib.ports.objects import IMMUTABLE_CACHE_CONTROL, ObjectStore, ObjectStoreError
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
    ProviderRequest,
    ProviderResult,
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
    "Finish",
    "GallerySource",
    "GenerationStore",
    "ImageFetcher",
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
    "ProviderQueues",
    "ProviderRequest",
    "ProviderResult",
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
