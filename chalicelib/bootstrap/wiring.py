"""``build_container``: the ports from the settings (``adapters.py``, ``operations.py``,
``photos.py``), then each area's use cases from its own ``services/<area>/wiring.py``, then the
reactions: the table of ``handlers.py`` installed on the bus.

The bus is made first and empty: the use cases publish on it, and some of them handle events.
Nothing else is bound late: the in-process queue is handed its consumer (the lane worker) once
that exists.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chalicelib.adapters.system_clock import SystemClock
from chalicelib.bootstrap.adapters import (
    breaker_policy,
    build_objects,
    build_pipeline,
    build_provider,
    build_push,
    build_queue,
    build_store,
    generation_policy,
    secret,
)
from chalicelib.bootstrap.container import Container, Ports
from chalicelib.bootstrap.handlers import Reactions, event_handlers
from chalicelib.bootstrap.operations import (
    build_alert_channels,
    build_download_tracker,
    build_fal_keys,
    build_jwks,
    build_webhook_sender,
)
from chalicelib.bootstrap.photos import photo_aware, photo_gate
from chalicelib.config import Settings, get_settings
from chalicelib.domain.tiers import load_tiers
from chalicelib.ports import (
    Clock,
    ImageProvider,
    JobQueue,
    ObjectStore,
    ProviderQueues,
    PushChannel,
    QueuedProvider,
    StateStore,
)
from chalicelib.services.access.wiring import wire_access
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.gallery.wiring import GalleryUseCases
from chalicelib.services.generation.batch_completion import BatchCompletion
from chalicelib.services.generation.callbacks import CallbackScheduler
from chalicelib.services.generation.lanes import LaneWorker
from chalicelib.services.generation.latency import LatencyEstimates
from chalicelib.services.generation.views import GenerationView
from chalicelib.services.generation.wiring import (
    GenerationPorts,
    GenerationRules,
    Webhooks,
    wire_generations,
)
from chalicelib.services.messagebus import Handler, MessageBus
from chalicelib.services.operations.wiring import OperationsUseCases
from chalicelib.services.realtime.wiring import wire_realtime

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chalicelib.adapters.outbound.fetch import Resolver
    from chalicelib.ports.photos import FaceDetector, PhotoModerator
    from chalicelib.services.gallery.refresh import GalleryRefresh

__all__ = ["build_container"]

log = logging.getLogger(__name__)


def build_container(
    settings: Settings | None = None,
    *,
    store: StateStore | None = None,
    objects: ObjectStore | None = None,
    provider: ImageProvider | None = None,
    queue: JobQueue | None = None,
    clock: Clock | None = None,
    start_workers: bool = True,
    resolver: Resolver | None = None,
    push: PushChannel | None = None,
    photo_vendors: Sequence[ImageProvider] | None = None,
    photo_detectors: tuple[FaceDetector, PhotoModerator] | None = None,
) -> Container:
    """Wire the application; any adapter given is used instead of the one the settings select.
    ``resolver`` replaces DNS for the SSRF checks of outbound calls (tests); ``photo_vendors``
    and ``photo_detectors`` replace the photo models and the photo checks' detectors (tests)."""
    settings = settings or get_settings()
    clock = clock or SystemClock()
    policy = generation_policy(settings)
    store = store or build_store(settings)
    objects = objects or build_objects(settings)
    queue = queue or build_queue(settings)
    bus = MessageBus()  # its handlers are installed below, once they all exist
    provider = provider or build_provider(
        settings, store.breakers, bus, resolver=resolver, clock=clock, counters=store.counters
    )
    ports = Ports(
        clock=clock,
        store=store,
        objects=objects,
        pipeline=build_pipeline(),
        queue=queue,
        provider=provider,
        push=push or build_push(settings),
        resolver=resolver,
        photo_detectors=photo_detectors,
    )
    tiers = load_tiers(settings.tiers_json)
    latency = LatencyEstimates(store.counters, clock)
    view = GenerationView(objects, queue, clock=clock, latency=latency)
    from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore  # lazy: off the cold start

    catalog = GalleryService(ObjectGalleryStore(objects), kv=store.kv)

    generation = wire_generations(
        GenerationPorts(
            store=store,
            objects=objects,
            pipeline=ports.pipeline,
            queue=queue,
            # A photo generation goes to the photo models (bootstrap/photos.py); any other to ``provider``.
            provider=photo_aware(
                provider,
                settings,
                kv=store.kv,
                objects=objects,
                bus=bus,
                clock=clock,
                resolver=resolver,
                photo_vendors_override=photo_vendors,
            ),
            provider_queues=_provider_queues(settings, provider),
            bus=bus,
            clock=clock,
        ),
        GenerationRules(
            policy=policy,
            tiers=tiers,
            breaker_policy=breaker_policy(settings),
            photo_gate=photo_gate(settings, store.kv, clock),
        ),
        Webhooks(
            sender=build_webhook_sender(resolver),
            fal_keys=build_fal_keys(settings),
            replicate_secret=secret(settings.replicate_webhook_secret) or "",
            public_url=settings.public_url,
        ),
        gallery=catalog,
        view=view,
    )
    access = wire_access(
        store.api_keys,
        pepper=settings.api_key_pepper_bytes,
        jwt_secret=settings.jwt_secret.get_secret_value(),
        jwks=build_jwks(settings),
    )
    realtime = wire_realtime(
        store, ports.push, view=view, authenticator=access.authenticator, batches=generation.batches
    )
    operations = OperationsUseCases(
        store,
        policy=policy,
        tiers=tiers,
        providers=provider.vendors or (provider.name,),
        channels=build_alert_channels(settings),
        clock=clock,
    )

    # The reactions to what happens: one table, each domain event to its handlers.
    bus.register(
        event_handlers(
            Reactions(
                callbacks=CallbackScheduler(queue),
                latency=latency,
                pushes=realtime.updates,
                batch_completion=BatchCompletion(kv=store.kv, generations=store.generations, bus=bus),
                experiment=operations.experiment,
                budget_alerts=operations.budget_alerts,
                saturation=_saturation_handler(provider),
                track_download=build_download_tracker(settings),
            )
        )
    )
    _serve_in_process(queue, generation.lanes, start_workers)

    def build_refresh() -> GalleryRefresh:
        from chalicelib.bootstrap.gallery import build_gallery_refresh

        return build_gallery_refresh(container)

    container = Container(
        settings=settings,
        policy=policy,
        ports=ports,
        bus=bus,
        generation=generation,
        gallery=GalleryUseCases(catalog, build_refresh),
        operations=operations,
        access=access,
        realtime=realtime,
    )
    return container


def _saturation_handler(provider: ImageProvider) -> Handler | None:
    """The burst lane's saturation tracker learns queue positions from ``GenerationProgressed``
    (webhook mode): the router has one where a burst provider is configured."""
    saturation = getattr(provider, "saturation", None)
    handler: Handler | None = getattr(saturation, "on_progressed", None)
    return handler


class _NoProviderQueues:
    """:class:`chalicelib.ports.ProviderQueues` outside webhook mode: none (and no vendor code to
    import for them on a cold start)."""

    available = False

    def for_quality(self, quality: str) -> list[QueuedProvider]:
        return []

    def get(self, name: str) -> QueuedProvider | None:
        return None


def _provider_queues(settings: Settings, provider: ImageProvider) -> ProviderQueues:
    """The providers' queue APIs: webhook mode needs the API's public URL for the callbacks."""
    if settings.public_url is None:
        return _NoProviderQueues()
    from chalicelib.adapters.providers.queued import QueuedProviders

    return QueuedProviders(provider)


def _serve_in_process(queue: JobQueue, lanes: LaneWorker, start: bool) -> None:
    """The embedded queue's workers hand each message to the lane worker (SQS has its Lambdas)."""
    from chalicelib.adapters.queue.inprocess import InProcessQueue

    if isinstance(queue, InProcessQueue):
        queue.serve(lanes.handle, start=start)
