"""Wiring of the photo flow: the upload signer, the checks, the photo models (docs/photos.md)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from chalicelib.services.photos.records import UploadRecords
from chalicelib.services.routing.photos import PhotoAwareProvider, PhotoProviders

if TYPE_CHECKING:
    from chalicelib.adapters.outbound.ssrf import Resolver
    from chalicelib.config import Settings
    from chalicelib.ports import Clock, Counters, ImageProvider, KeyValueStore, ObjectStore
    from chalicelib.ports.photos import FaceDetector, PhotoCheckQueue, PhotoModerator, UploadSigner
    from chalicelib.services.messagebus import MessageBus
    from chalicelib.services.photos.cases import PhotoUseCases
    from chalicelib.services.photos.gate import PhotoGate
    from chalicelib.services.routing.router import ProviderRouter


def upload_records(settings: Settings, kv: KeyValueStore) -> UploadRecords:
    return UploadRecords(kv, settings.photo_retention_seconds)


def photo_gate(settings: Settings, kv: KeyValueStore, clock: Clock) -> PhotoGate:
    from chalicelib.services.photos.gate import PhotoGate

    return PhotoGate(upload_records(settings, kv), clock)


def api_base_url(settings: Settings) -> str:
    """The API's own base URL (the local stage's upload form is one of its routes)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    files = settings.files_base_url.rstrip("/")
    return files.removesuffix("/v1/files")


def photo_store(settings: Settings, objects: ObjectStore) -> ObjectStore:
    """Where the uploaded photos live: ``AVATARFLOW_PHOTOS_BUCKET`` (AWS S3) when set, else the
    image store. Cloudflare R2 cannot take them (its S3 API has no PostObject, so the browser's form
    POST would be refused): R2 without a photos bucket stops the start-up, not the first upload."""
    if settings.photos_bucket:
        from chalicelib.bootstrap.object_stores import build_photos_store

        return build_photos_store(settings.photos_bucket)
    from chalicelib.bootstrap.object_stores import is_cloudflare_r2

    if is_cloudflare_r2(settings):
        raise RuntimeError(
            "R2_ENDPOINT_URL is Cloudflare R2, which does not implement S3 POST policies (PostObject): "
            "photo uploads need AVATARFLOW_PHOTOS_BUCKET, an AWS S3 bucket (docs/photos.md)"
        )
    return objects


def build_signer(settings: Settings, objects: ObjectStore) -> UploadSigner:
    """R2/S3 sign their own POST policies and GETs; the local stage signs its own."""
    if hasattr(objects, "presign_post") and hasattr(objects, "presigned_get"):
        signer: UploadSigner = objects  # type: ignore[assignment]
        return signer
    from chalicelib.adapters.storage.local_uploads import LocalUploadSigner

    return LocalUploadSigner(settings.jwt_secret.get_secret_value(), api_base_url(settings))


def photo_vendors(settings: Settings, router: ProviderRouter) -> list[ImageProvider]:
    """The photo models of the router's vendors that have one, in failover order: fal (FLUX
    PuLID), Replicate (FLUX.1 Kontext [pro]), Together (FLUX.1 Kontext [pro]). Each shares its
    vendor adapter's key pool and options (a key set aside is set aside for both), with the
    photo models' prices added."""
    from chalicelib.adapters.providers.http_base import HttpProvider
    from chalicelib.adapters.providers.photo_prices import photo_prices
    from chalicelib.adapters.providers.photo_vendors import (
        FalPhotoProvider,
        ReplicatePhotoProvider,
        TogetherPhotoProvider,
    )

    prices = photo_prices(settings.provider_prices)
    deadline = settings.provider_deadline_seconds

    def shared(name: str) -> HttpProvider | None:
        adapter = router.vendor(name)
        return adapter if isinstance(adapter, HttpProvider) else None

    vendors: list[ImageProvider] = []
    if fal := shared("fal"):
        vendors.append(FalPhotoProvider(fal.keys, dataclasses.replace(fal.options, prices=prices)))
    if replicate := shared("replicate"):
        vendors.append(
            ReplicatePhotoProvider(
                replicate.keys,
                dataclasses.replace(replicate.options, prices=prices),
                wait_seconds=max(1, int(min(60.0, deadline - 5.0))),
                deadline_seconds=deadline,
            )
        )
    if together := shared("together"):
        vendors.append(
            TogetherPhotoProvider(together.keys, dataclasses.replace(together.options, prices=prices))
        )
    return vendors


class _LazyVendors(Sequence["ImageProvider"]):
    """The photo vendors, built on the first photo generation (no vendor code on a cold start)."""

    def __init__(self, build: Callable[[], list[ImageProvider]]) -> None:
        self._build = build

    @functools.cached_property
    def _items(self) -> list[ImageProvider]:
        return self._build()

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> ImageProvider:  # type: ignore[override]
        return self._items[index]


def photo_aware(
    provider: ImageProvider,
    settings: Settings,
    *,
    kv: KeyValueStore,
    objects: ObjectStore,
    bus: MessageBus | None,
    clock: Clock | None,
    resolver: Resolver | None,
    photo_vendors_override: Sequence[ImageProvider] | None = None,
) -> ImageProvider:
    """``provider`` for every request, the photo models for a photo request: those of the
    router's vendors, routed by the router itself (its breakers, events and key pools). Without
    a router (no vendor account) a photo is stylised offline. The photos are read where
    :func:`photo_store` says (built at start-up, so a store that cannot take photos stops it). ``bus``, ``clock`` and ``resolver``
    are the router's own already (kept for the callers' sake)."""
    from chalicelib.adapters.providers.procedural_photo import ProceduralPhotoProvider
    from chalicelib.services.routing.router import ProviderRouter

    router = provider if isinstance(provider, ProviderRouter) else None
    vendors: Sequence[ImageProvider] = ()
    if photo_vendors_override is not None:
        vendors = photo_vendors_override
    elif router is not None:
        vendors = _LazyVendors(lambda: photo_vendors(settings, router))
    photos_store = photo_store(settings, objects)
    photos = PhotoProviders(
        vendors,
        router=router,
        lookup=upload_records(settings, kv).get,
        objects=photos_store,
        signer=build_signer(settings, photos_store),
        offline=ProceduralPhotoProvider(),
    )
    return PhotoAwareProvider(provider, photos)


def build_photos(
    settings: Settings,
    *,
    kv: KeyValueStore,
    counters: Counters,
    objects: ObjectStore,
    clock: Clock,
    detectors: tuple[FaceDetector, PhotoModerator] | None = None,
) -> PhotoUseCases:
    """The photo use cases (``services/photos/wiring.py``) on the photos' store (:func:`photo_store`);
    ``detectors`` replace OpenCV's and NudeNet's (tests)."""
    from chalicelib.adapters.storage.local_uploads import LocalUploadSigner
    from chalicelib.services.photos.receive import ReceiveLocalUpload
    from chalicelib.services.photos.wiring import LocalReceive, wire_photos

    records = upload_records(settings, kv)
    objects = photo_store(settings, objects)
    if detectors is None:
        from chalicelib.adapters.photos.nudenet_moderation import NudeNetModerator
        from chalicelib.adapters.photos.opencv_faces import OpenCvFaceDetector

        detectors = (OpenCvFaceDetector(), NudeNetModerator())
    queue: PhotoCheckQueue | None = None
    if settings.queue_url_photos:
        from chalicelib.adapters.queue.photo_checks import SqsPhotoChecks

        queue = SqsPhotoChecks(settings.queue_url_photos)
    signer = build_signer(settings, objects)
    local_receive: LocalReceive | None = None
    if isinstance(signer, LocalUploadSigner):
        local = signer

        def receive(checks: PhotoCheckQueue) -> ReceiveLocalUpload:
            return ReceiveLocalUpload(
                signer=local, objects=objects, records=records, checks=checks, clock=clock
            )

        local_receive = receive

    from chalicelib.adapters.imaging.photo import PillowPhotoCodec

    return wire_photos(
        records,
        signer=signer,
        detectors=detectors,
        codec=PillowPhotoCodec(),
        queue=queue,
        local_receive=local_receive,
        objects=objects,
        counters=counters,
        clock=clock,
        retention_s=settings.photo_retention_seconds,
        per_hour=settings.uploads_per_hour,
    )
