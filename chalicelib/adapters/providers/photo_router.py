"""Photo generations: routed to the photo models, never to a text-to-image model.

:class:`PhotoAwareProvider` wraps the usual provider (the router over the vendors, or the
offline renderer): a request without a photo goes to it untouched; a photo request goes to
:class:`PhotoProviders`, which looks the upload up, gives each vendor a presigned GET of the
clean photo (valid 10 minutes) and fails over between the vendors in order as for any
generation. With no vendor account, :class:`ProceduralPhotoProvider` stylises the photo offline.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Callable, Sequence

from chalicelib.domain.styles import get_style
from chalicelib.domain.uploads import PROVIDER_URL_TTL_S, FaceBox, Upload
from chalicelib.ports import (
    ContentRejected,
    ImageProvider,
    ObjectStore,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    ProviderRequest,
    ProviderResult,
)
from chalicelib.ports.photos import UploadSigner

RENDER_SIZE = 1024
NOT_FAILED_OVER = (ContentRejected, ProviderBadRequest)  # another vendor would refuse it too


class ProceduralPhotoProvider:
    """The offline stylisation (:mod:`chalicelib.render.photo_style`) of a photo's face."""

    name = "procedural"

    def generate_from(self, request: ProviderRequest, photo: bytes, face: FaceBox) -> ProviderResult:
        from PIL import Image

        from chalicelib.render.photo_style import stylise

        if get_style(request.style_id) is None:
            raise ProviderBadRequest(f"unknown style {request.style_id!r}")
        started = time.perf_counter()
        with Image.open(io.BytesIO(photo)) as opened:
            opened.load()
            picture = stylise(
                opened.convert("RGB"),
                face,
                request.style_id,
                size=RENDER_SIZE,
                seed=request.seed,
                likeness=request.likeness,
            )
        return ProviderResult(
            image=b"",
            provider=self.name,
            model="procedural-photo-v1",
            cost_usd=0.0,
            latency_ms=(time.perf_counter() - started) * 1000,
            picture=picture,
        )


class PhotoProviders:
    """The photo models in failover order (fal, Replicate, Together: those with a key), else the
    offline stylisation."""

    def __init__(
        self,
        vendors: Sequence[ImageProvider],
        *,
        lookup: Callable[[str], Upload | None],
        objects: ObjectStore,
        signer: UploadSigner,
    ) -> None:
        self._vendors = list(vendors)
        self._lookup = lookup
        self._objects = objects
        self._signer = signer
        self._offline = ProceduralPhotoProvider()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self._vendors) or (self._offline.name,)

    def _upload(self, upload_id: str) -> Upload:
        upload = self._lookup(upload_id)
        if upload is None or upload.status != "ready" or upload.face is None or upload.expired(time.time()):
            # Erased or expired since the request was admitted: the job fails (refunded).
            raise ProviderBadRequest("the photo is no longer available")
        return upload

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        upload = self._upload(request.photo or "")
        if not self._vendors:
            data = self._objects.get(upload.object_key)
            if data is None:
                raise ProviderBadRequest("the photo is no longer available")
            return self._offline.generate_from(request, data, upload.face or FaceBox(0, 0, 1, 1))
        url = self._signer.presigned_get(upload.object_key, PROVIDER_URL_TTL_S)
        signed = dataclasses.replace(request, photo_url=url)
        deadline = None if within_s is None else time.monotonic() + within_s
        last: ProviderError | None = None
        for vendor in self._vendors:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                return vendor.generate(signed, within_s=left)
            except NOT_FAILED_OVER:
                raise
            except ProviderError as exc:
                last = exc  # down, throttled, out of credit: the next vendor
        raise last or ProviderDown("no photo model could be reached in time")


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
