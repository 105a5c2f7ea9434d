"""The wired application: what ``build_container`` returns and the entrypoints use, one bundle
per area of ``services/`` (each made by that area's ``wiring.py``) and the ports behind them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.adapters.outbound.ssrf import Resolver
    from chalicelib.config import Settings
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
    from chalicelib.services.access.wiring import AccessUseCases
    from chalicelib.services.gallery.wiring import GalleryUseCases
    from chalicelib.services.generation.policy import GenerationPolicy
    from chalicelib.services.generation.wiring import GenerationUseCases
    from chalicelib.services.messagebus import MessageBus
    from chalicelib.services.operations.wiring import OperationsUseCases
    from chalicelib.services.photos.cases import PhotoUseCases
    from chalicelib.services.privacy.wiring import PrivacyUseCases
    from chalicelib.services.realtime.wiring import RealtimeUseCases


@dataclass(frozen=True)
class Ports:
    """The adapters chosen for this process, one per port (``bootstrap/adapters.py``)."""

    clock: Clock
    store: StateStore
    objects: ObjectStore
    pipeline: ImagePipeline
    queue: JobQueue
    provider: ImageProvider  # the text-to-image router (photo generations go to the photo models)
    push: PushChannel
    resolver: Resolver | None = None  # tests: instead of DNS, for the SSRF checks of outbound calls
    photo_detectors: tuple[FaceDetector, PhotoModerator] | None = None  # tests: instead of OpenCV, NudeNet


@dataclass
class Container:
    """The wired application: the ports, the bus, and each area's use cases."""

    settings: Settings
    policy: GenerationPolicy
    ports: Ports
    bus: MessageBus
    generation: GenerationUseCases
    gallery: GalleryUseCases
    operations: OperationsUseCases
    access: AccessUseCases
    realtime: RealtimeUseCases

    @functools.cached_property
    def photos(self) -> PhotoUseCases:
        """The photo use cases (uploads, checks, privacy), built on first use."""
        from chalicelib.bootstrap.photos import build_photos

        ports = self.ports
        return build_photos(
            self.settings,
            kv=ports.store.kv,
            counters=ports.store.counters,
            objects=ports.objects,
            clock=ports.clock,
            detectors=ports.photo_detectors,
        )

    @functools.cached_property
    def privacy(self) -> PrivacyUseCases:
        """Erasure, export and the admin audit trail, each built on first use."""
        from chalicelib.services.privacy.wiring import PrivacyUseCases

        ports = self.ports
        return PrivacyUseCases(
            ports.store,
            objects=ports.objects,
            clock=ports.clock,
            avatars=self.generation.avatars,
            reads=self.generation.reads,
            photos=lambda: self.photos.privacy,
        )

    def describe(self) -> dict[str, Any]:
        """Which adapter serves each port (for /v1/health and the logs; no secrets)."""
        ports = self.ports
        return {
            "store_adapter": type(ports.store).__name__,
            "object_store": type(ports.objects).__name__,
            "queue": type(ports.queue).__name__,
            "provider": ports.provider.name,
            "push": type(ports.push).__name__,
        }
