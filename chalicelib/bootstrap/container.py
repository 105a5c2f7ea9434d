"""The wired application: what ``build_container`` returns and the entrypoints use."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.adapters.outbound.ssrf import Resolver
    from chalicelib.config import Settings
    from chalicelib.domain.tiers import Tier
    from chalicelib.ports import (
        Clock,
        ImagePipeline,
        ImageProvider,
        JobQueue,
        ObjectStore,
        PushChannel,
        StateStore,
    )
    from chalicelib.ports.photos import FaceDetector, PhotoModerator
    from chalicelib.services.access.api_keys import ApiKeyService
    from chalicelib.services.access.identity import Authenticator
    from chalicelib.services.gallery.catalog import GalleryService
    from chalicelib.services.gallery.refresh import GalleryRefresh
    from chalicelib.services.generation.admission import Admission
    from chalicelib.services.generation.avatars import AvatarService
    from chalicelib.services.generation.batches import BatchService
    from chalicelib.services.generation.finish import FinishGeneration
    from chalicelib.services.generation.lanes import LaneWorker
    from chalicelib.services.generation.policy import GenerationPolicy
    from chalicelib.services.generation.read import ReadGenerations
    from chalicelib.services.generation.reap import Reaper
    from chalicelib.services.generation.request import RequestGeneration
    from chalicelib.services.generation.views import GenerationView
    from chalicelib.services.generation.webhooks import ReceiveWebhook
    from chalicelib.services.messagebus import MessageBus
    from chalicelib.services.operations.budget_alerts import BudgetAlerts
    from chalicelib.services.operations.product_events import RecordProductEvents
    from chalicelib.services.operations.stats import StatsService
    from chalicelib.services.photos.cases import PhotoUseCases
    from chalicelib.services.privacy.audit import AdminAudit
    from chalicelib.services.privacy.erasure import EraseUserData
    from chalicelib.services.privacy.export import ExportUserData
    from chalicelib.services.realtime.sessions import RealtimeSessions


@dataclass
class Container:
    """The wired application: the ports, the bus, and the use cases the entrypoints call."""

    settings: Settings
    policy: GenerationPolicy
    clock: Clock
    store: StateStore
    objects: ObjectStore
    pipeline: ImagePipeline
    queue: JobQueue
    provider: ImageProvider
    tiers: dict[str, Tier]
    bus: MessageBus
    authenticator: Authenticator
    api_keys: ApiKeyService
    gallery: GalleryService
    view: GenerationView
    admission: Admission
    finish: FinishGeneration
    request_generation: RequestGeneration
    reads: ReadGenerations
    avatars: AvatarService
    batches: BatchService
    lanes: LaneWorker
    webhooks: ReceiveWebhook
    reaper: Reaper
    budget_alerts: BudgetAlerts
    push: PushChannel
    realtime: RealtimeSessions
    resolver: Resolver | None = None
    photo_detectors: tuple[FaceDetector, PhotoModerator] | None = None  # tests: instead of OpenCV, NudeNet

    @functools.cached_property
    def photos(self) -> PhotoUseCases:
        """The photo use cases (uploads, checks, privacy), built on first use."""
        from chalicelib.bootstrap.photos import wire_photos

        return wire_photos(
            self.settings,
            kv=self.store.kv,
            counters=self.store.counters,
            objects=self.objects,
            clock=self.clock,
            detectors=self.photo_detectors,
        )

    @functools.cached_property
    def gallery_refresh(self) -> GalleryRefresh:
        """The refresh job (the schedule and the admin route), built on first use: its sources
        import vendor code that no request needs."""
        from chalicelib.bootstrap.gallery import build_gallery_refresh

        return build_gallery_refresh(self)

    @functools.cached_property
    def stats(self) -> StatsService:
        """``GET /v1/admin/stats``, built on first use."""
        from chalicelib.services.operations.stats import StatsService

        return StatsService(
            self.store.counters,
            tiers=self.tiers,
            budget=self.policy.budget,
            providers=self.provider.vendors or (self.provider.name,),
            clock=self.clock,
            experiment_share=self.policy.experiment_dev_share,
        )

    @functools.cached_property
    def product_events(self) -> RecordProductEvents:
        """``POST /v1/events`` (the conversion funnel), built on first use."""
        from chalicelib.services.operations.product_events import RecordProductEvents

        return RecordProductEvents(
            self.store.analytics, rate_per_minute=self.policy.rate_per_minute, clock=self.clock
        )

    @functools.cached_property
    def audit(self) -> AdminAudit:
        """The admin audit trail (api/audit.py records every admin call), built on first use."""
        from chalicelib.services.privacy.audit import AdminAudit

        return AdminAudit(self.store.audit)

    @functools.cached_property
    def erase_user_data(self) -> EraseUserData:
        """``DELETE /v1/me``, built on first use."""
        from chalicelib.services.privacy.erasure import EraseUserData

        return EraseUserData(
            generations=self.store.generations,
            kv=self.store.kv,
            objects=self.objects,
            avatars=self.avatars,
            photos=self.photos.privacy,
        )

    @functools.cached_property
    def export_user_data(self) -> ExportUserData:
        """``GET /v1/me/export``, built on first use."""
        from chalicelib.services.privacy.export import ExportUserData

        return ExportUserData(
            reads=self.reads, avatars=self.avatars, clock=self.clock, photos=self.photos.privacy
        )

    def describe(self) -> dict[str, Any]:
        """Which adapter serves each port (for /v1/health and the logs; no secrets)."""
        return {
            "store_adapter": type(self.store).__name__,
            "object_store": type(self.objects).__name__,
            "queue": type(self.queue).__name__,
            "provider": self.provider.name,
            "push": type(self.push).__name__,
        }
