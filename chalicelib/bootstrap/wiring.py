"""``build_container``: the ports from the settings (``adapters.py``, ``operations.py``), the message
bus with the reactions to domain events, then each use case with exactly the ports it needs.

The generation use cases themselves are wired in ``use_cases.py`` (shared with the use-case tests).
Nothing is bound late: the in-process queue is handed its consumer (the lane worker) once that
exists.
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
from chalicelib.bootstrap.container import Container
from chalicelib.bootstrap.operations import (
    build_alert_channels,
    build_download_tracker,
    build_fal_keys,
    build_jwks,
    build_webhook_sender,
)
from chalicelib.bootstrap.photos import photo_aware, photo_gate
from chalicelib.bootstrap.use_cases import Collaborators, wire_generations
from chalicelib.config import Settings, get_settings
from chalicelib.domain.events import (
    BatchFinished,
    BatchItemsEnded,
    BatchRecorded,
    GalleryItemChosen,
    GenerationAdmitted,
    GenerationChosen,
    GenerationFinished,
    GenerationProgressed,
    ProviderAttempted,
    ProviderKeyChanged,
    SpendRecorded,
)
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
from chalicelib.services.access.api_keys import ApiKeyService
from chalicelib.services.access.identity import Authenticator
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.generation.avatars import AvatarService
from chalicelib.services.generation.batch_completion import BatchCompletion
from chalicelib.services.generation.callbacks import CallbackScheduler
from chalicelib.services.generation.lanes import LaneWorker
from chalicelib.services.generation.latency import LatencyEstimates
from chalicelib.services.generation.views import GenerationView
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.operations import key_alerts
from chalicelib.services.operations.budget_alerts import BudgetAlerts
from chalicelib.services.operations.experiment import ExperimentTracker
from chalicelib.services.realtime.push import PushUpdates
from chalicelib.services.realtime.sessions import RealtimeSessions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chalicelib.adapters.outbound.fetch import Resolver
    from chalicelib.ports.photos import FaceDetector, PhotoModerator

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
    pipeline = build_pipeline()
    queue = queue or build_queue(settings)
    tiers = load_tiers(settings.tiers_json)
    push = push or build_push(settings)
    latency = LatencyEstimates(store.counters, clock)
    view = GenerationView(objects, queue, clock=clock, latency=latency)

    # The reactions to what happens, each a handler of a domain event.
    budget_alerts = BudgetAlerts(
        counters=store.counters,
        kv=store.kv,
        budget=policy.budget,
        channels=build_alert_channels(settings),
        clock=clock,
    )
    from chalicelib.observability import metrics

    # The real-time push: each change of a watched generation, the end of a watched batch.
    pushes = PushUpdates(watches=store.watches, push=push, view=view, generations=store.generations)
    bus = MessageBus(
        {
            GenerationAdmitted: [metrics.on_admitted],
            GenerationProgressed: [pushes.on_progressed],
            GenerationFinished: [
                metrics.on_finished,
                CallbackScheduler(queue).on_finished,
                latency.on_finished,
                pushes.on_finished,
            ],
            BatchFinished: [pushes.on_batch_finished],
            SpendRecorded: [budget_alerts.on_spend],
            ProviderAttempted: [metrics.on_provider_attempted],
            ProviderKeyChanged: [key_alerts.on_key_changed],
        }
    )
    batch_completion = BatchCompletion(kv=store.kv, generations=store.generations, bus=bus)
    bus.subscribe(GenerationFinished, batch_completion.on_finished)
    bus.subscribe(BatchItemsEnded, batch_completion.on_items_ended)
    bus.subscribe(BatchRecorded, batch_completion.on_recorded)
    # The schnell-against-dev experiment: what each arm made, cost and had adopted.
    experiment = ExperimentTracker(store.counters)
    bus.subscribe(GenerationFinished, experiment.on_finished)
    bus.subscribe(GenerationChosen, experiment.on_chosen)
    if (track_download := build_download_tracker(settings)) is not None:
        bus.subscribe(GalleryItemChosen, track_download)
    provider = provider or build_provider(
        settings, store.breakers, bus, resolver=resolver, clock=clock, counters=store.counters
    )
    from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore  # lazy: off the cold start

    gallery = GalleryService(ObjectGalleryStore(objects), kv=store.kv)
    # A photo generation goes to the photo models (bootstrap/photos.py); any other to ``provider``.
    routed = photo_aware(
        provider,
        settings,
        kv=store.kv,
        objects=objects,
        bus=bus,
        clock=clock,
        resolver=resolver,
        photo_vendors_override=photo_vendors,
    )

    # The use cases.
    cases = wire_generations(
        Collaborators(
            store=store,
            objects=objects,
            pipeline=pipeline,
            queue=queue,
            provider=routed,
            provider_queues=_provider_queues(settings, provider),
            bus=bus,
            clock=clock,
            policy=policy,
            tiers=tiers,
            gallery=gallery,
            view=view,
            sender=build_webhook_sender(resolver),
            fal_keys=build_fal_keys(settings),
            replicate_secret=secret(settings.replicate_webhook_secret) or "",
            public_url=settings.public_url,
            breaker_policy=breaker_policy(settings),
            photo_gate=photo_gate(settings, store.kv, clock),
        )
    )
    _serve_in_process(queue, cases.lanes, start_workers)
    api_keys = ApiKeyService(store.api_keys, settings.api_key_pepper_bytes)
    authenticator = Authenticator(
        settings.jwt_secret.get_secret_value(),
        api_keys.lookup if api_keys.enabled else None,
        jwks=build_jwks(settings),
    )
    return Container(
        settings=settings,
        policy=policy,
        clock=clock,
        store=store,
        objects=objects,
        pipeline=pipeline,
        queue=queue,
        provider=provider,
        tiers=tiers,
        bus=bus,
        authenticator=authenticator,
        api_keys=api_keys,
        gallery=gallery,
        view=view,
        admission=cases.admission,
        finish=cases.finish,
        request_generation=cases.request,
        reads=cases.reads,
        avatars=AvatarService(
            generations=store.generations,
            kv=store.kv,
            objects=objects,
            gallery=gallery,
            bus=bus,
            holders=store.holders,
        ),
        batches=cases.batches,
        lanes=cases.lanes,
        webhooks=cases.webhooks,
        reaper=cases.reaper,
        budget_alerts=budget_alerts,
        push=push,
        realtime=RealtimeSessions(
            authenticator=authenticator,
            watches=store.watches,
            push=push,
            generations=store.generations,
            batches=cases.batches,
            view=view,
        ),
        resolver=resolver,
        photo_detectors=photo_detectors,
    )


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
