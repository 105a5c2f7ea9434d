"""Photo generations: routed to the photo models, never to a text-to-image model.

:class:`PhotoAwareProvider` wraps the usual provider (the router over the vendors, or the
offline renderer): a request without a photo goes to it untouched; a photo request goes to
:class:`PhotoProviders`, which looks the upload up, gives each vendor a presigned GET of the
clean photo (valid 10 minutes) and hands the photo models to the router's failover
(:meth:`ProviderRouter.failover`): the same circuit breakers, ``ProviderAttempted`` events and
deadline as any generation. With no photo model (no vendor account), an offline stylisation
(:class:`PhotoStyliser`) makes the picture.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from chalicelib.domain.uploads import PROVIDER_URL_TTL_S, FaceBox, Upload
from chalicelib.ports import (
    ImageProvider,
    ObjectStore,
    ProviderBadRequest,
    ProviderDown,
    ProviderRequest,
    ProviderResult,
)
from chalicelib.ports.photos import UploadSigner

if TYPE_CHECKING:
    from chalicelib.services.routing.router import ProviderRouter

NOT_FAILED_OVER = ("content_rejected", "bad_request")  # another vendor would refuse it too


class PhotoStyliser(Protocol):
    """A photo model that runs here, on the photo's bytes and the face found in it."""

    name: str

    def generate_from(self, request: ProviderRequest, photo: bytes, face: FaceBox) -> ProviderResult:
        """A styled avatar of the face ``face`` (relative box) in ``photo``."""
        ...


class PhotoProviders:
    """The photo models in failover order (fal, Replicate, Together: those with a key), routed by
    ``router``; else the offline stylisation."""

    def __init__(
        self,
        vendors: Sequence[ImageProvider],
        *,
        router: ProviderRouter | None,
        lookup: Callable[[str], Upload | None],
        objects: ObjectStore,
        signer: UploadSigner,
        offline: PhotoStyliser | None = None,
    ) -> None:
        # Without a router there is no vendor to route to: the offline stylisation only.
        self._vendors: Sequence[ImageProvider] = vendors if router is not None else ()
        self._router = router
        self._lookup = lookup
        self._objects = objects
        self._signer = signer
        self._offline = offline

    @property
    def names(self) -> tuple[str, ...]:
        offline = (self._offline.name,) if self._offline is not None else ()
        return tuple(v.name for v in self._vendors) or offline

    def _upload(self, upload_id: str) -> Upload:
        upload = self._lookup(upload_id)
        if upload is None or upload.status != "ready" or upload.face is None or upload.expired(time.time()):
            # Erased or expired since the request was admitted: the job fails (refunded).
            raise ProviderBadRequest("the photo is no longer available")
        return upload

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        upload = self._upload(request.photo or "")
        vendors = list(self._vendors)
        if not vendors or self._router is None:
            if self._offline is None:
                raise ProviderDown("no photo model is configured")
            data = self._objects.get(upload.object_key)
            if data is None:
                raise ProviderBadRequest("the photo is no longer available")
            return self._offline.generate_from(request, data, upload.face or FaceBox(0, 0, 1, 1))
        url = self._signer.presigned_get(upload.object_key, PROVIDER_URL_TTL_S)
        signed = dataclasses.replace(request, photo_url=url)
        # A refusal or a bad request would be refused by the next photo model too.
        return self._router.failover(signed, vendors, within_s=within_s, final=NOT_FAILED_OVER)


class PhotoAwareProvider(ImageProvider):
    """The usual provider for every request, the photo models for a photo request."""

    def __init__(self, base: ImageProvider, photos: PhotoProviders) -> None:
        self._base = base
        self._photos = photos
        self.name = base.name
        self.dedups_requests = base.dedups_requests

    @property
    def base(self) -> ImageProvider:
        return self._base

    @property
    def vendors(self) -> tuple[str, ...]:
        return self._base.vendors

    def supports(self, quality: str) -> bool:
        return self._base.supports(quality)

    def candidates(self, quality: str) -> Sequence[ImageProvider]:
        return self._base.candidates(quality)

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        if request.photo is None:
            return self._base.generate(request, within_s=within_s)
        return self._photos.generate(request, within_s=within_s)

    def __getattr__(self, name: str) -> object:
        # Anything else the wrapped provider offers (close(), a router's health) stays reachable.
        return getattr(self._base, name)
