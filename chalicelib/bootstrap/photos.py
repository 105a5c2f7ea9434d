"""Wiring of the photo flow: the upload signer, the checks, the photo models (docs/photos.md)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from chalicelib.adapters.providers.photo_router import PhotoAwareProvider, PhotoProviders
from chalicelib.services.photos.records import UploadRecords

if TYPE_CHECKING:
    from chalicelib.adapters.outbound.ssrf import Resolver
    from chalicelib.config import Settings
    from chalicelib.ports import Clock, Counters, ImageProvider, KeyValueStore, ObjectStore
    from chalicelib.ports.photos import FaceDetector, PhotoCheckQueue, PhotoModerator, UploadSigner
    from chalicelib.services.messagebus import MessageBus
    from chalicelib.services.photos.cases import PhotoUseCases
    from chalicelib.services.photos.gate import PhotoGate


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


def build_signer(settings: Settings, objects: ObjectStore) -> UploadSigner:
    """R2/S3 sign their own POST policies and GETs; the local stage signs its own."""
    if hasattr(objects, "presign_post") and hasattr(objects, "presigned_get"):
        signer: UploadSigner = objects  # type: ignore[assignment]
        return signer
    from chalicelib.adapters.storage.local_uploads import LocalUploadSigner

    return LocalUploadSigner(settings.jwt_secret.get_secret_value(), api_base_url(settings))


def photo_vendors(
    settings: Settings, bus: MessageBus | None, clock: Clock | None, resolver: Resolver | None
) -> list[ImageProvider]:
    """The photo models of the vendors that have a key, in failover order: fal (FLUX PuLID),
    Replicate (FLUX.1 Kontext [pro]), Together (FLUX.1 Kontext [pro])."""
    from chalicelib.adapters.providers.photo_prices import photo_prices
    from chalicelib.adapters.providers.photo_vendors import (
        FalPhotoProvider,
        ReplicatePhotoProvider,
        TogetherPhotoProvider,
    )
    from chalicelib.bootstrap.adapters import VendorOptions, key_pools

    pools = key_pools(settings, bus, clock)
    deadline = settings.provider_deadline_seconds
    o = VendorOptions(
        deadline_s=deadline,
        prices=photo_prices(settings.provider_prices),
        fetch_timeout_s=min(15.0, deadline),
        resolver=resolver,
    )
    vendors: list[ImageProvider] = []
    if "fal" in pools:
        vendors.append(
            FalPhotoProvider(
                pools["fal"], base_url=settings.fal_base_url, timeout=o.timeout(60.0), **o.common()
            )
        )
    if "replicate" in pools:
        vendors.append(
            ReplicatePhotoProvider(
                pools["replicate"],
                base_url=settings.replicate_base_url,
                wait_seconds=max(1, int(min(60.0, deadline - 5.0))),
                deadline_seconds=deadline,
                timeout=o.timeout(20.0),
                **o.common(),
            )
        )
    if "together" in pools:
        vendors.append(
            TogetherPhotoProvider(
                pools["together"], base_url=settings.together_base_url, timeout=o.timeout(60.0), **o.common()
            )
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
    """``provider`` for every request, the photo models for a photo request."""
    vendors: Sequence[ImageProvider] = (
        photo_vendors_override
        if photo_vendors_override is not None
        else _LazyVendors(lambda: photo_vendors(settings, bus, clock, resolver))
    )
    photos = PhotoProviders(
        vendors,
        lookup=upload_records(settings, kv).get,
        objects=objects,
        signer=build_signer(settings, objects),
    )
    return PhotoAwareProvider(provider, photos)


def wire_photos(
    settings: Settings,
    *,
    kv: KeyValueStore,
    counters: Counters,
    objects: ObjectStore,
    clock: Clock,
    detectors: tuple[FaceDetector, PhotoModerator] | None = None,
) -> PhotoUseCases:
    """The photo use cases; ``detectors`` replace OpenCV's and NudeNet's (tests)."""
    from chalicelib.adapters.storage.local_uploads import LocalUploadSigner
    from chalicelib.services.photos.cases import InlinePhotoChecks, PhotoUseCases
    from chalicelib.services.photos.check import CheckPhoto
    from chalicelib.services.photos.privacy import PhotoPrivacy
    from chalicelib.services.photos.receive import ReceiveLocalUpload
    from chalicelib.services.photos.uploads import CreateUpload, ReadUpload

    records = upload_records(settings, kv)
    if detectors is None:
        from chalicelib.adapters.photos.nudenet_moderation import NudeNetModerator
        from chalicelib.adapters.photos.opencv_faces import OpenCvFaceDetector

        detectors = (OpenCvFaceDetector(), NudeNetModerator())
    faces, moderator = detectors
    from chalicelib.adapters.imaging.photo import PillowPhotoCodec

    check = CheckPhoto(
        records=records,
        objects=objects,
        codec=PillowPhotoCodec(),
        faces=faces,
        moderator=moderator,
        clock=clock,
    )
    checks: PhotoCheckQueue
    if settings.queue_url_photos:
        from chalicelib.adapters.queue.photo_checks import SqsPhotoChecks

        checks = SqsPhotoChecks(settings.queue_url_photos)
    else:
        checks = InlinePhotoChecks(check)
    signer = build_signer(settings, objects)
    receive = None
    if isinstance(signer, LocalUploadSigner):
        receive = ReceiveLocalUpload(
            signer=signer, objects=objects, records=records, checks=checks, clock=clock
        )
    return PhotoUseCases(
        records=records,
        create=CreateUpload(
            records=records,
            signer=signer,
            counters=counters,
            clock=clock,
            retention_s=settings.photo_retention_seconds,
            per_hour=settings.uploads_per_hour,
        ),
        read=ReadUpload(records=records, objects=objects, checks=checks, clock=clock),
        check=check,
        receive=receive,
        privacy=PhotoPrivacy(
            records=records, objects=objects, clock=clock, retention_s=settings.photo_retention_seconds
        ),
    )
