"""The offline photo model: the face found in the photo, cropped and centred, then a per-style
treatment (:mod:`chalicelib.render.photo_style`), so the photo flow runs with no vendor account."""

from __future__ import annotations

import io
import time

from chalicelib.domain.styles import get_style
from chalicelib.domain.uploads import FaceBox
from chalicelib.ports import ProviderBadRequest, ProviderRequest, ProviderResult

RENDER_SIZE = 1024


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
