"""The embedded image provider: the offline procedural renderer, free and deterministic."""

from __future__ import annotations

import time

from chalicelib.domain.styles import get_style
from chalicelib.ports import ImageProvider, ProviderBadRequest, ProviderRequest, ProviderResult

RENDER_SIZE = 1024


class ProceduralProvider(ImageProvider):
    """:class:`chalicelib.ports.ImageProvider` that draws avatars locally at 1024 px."""

    name = "procedural"

    def __init__(self, *, delay_s: float = 0.0) -> None:
        # A slow stand-in for an AI vendor (AVATARFLOW_PROCEDURAL_DELAY_SECONDS, local stage only):
        # what a page shows while it waits can be seen, and tested, offline.
        self._delay_s = max(0.0, delay_s)

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        from chalicelib.render.procedural import render_avatar  # lazy: Pillow is a cold-start cost

        style = get_style(request.style_id)
        if style is None:
            raise ProviderBadRequest(f"unknown style {request.style_id!r}")
        started = time.perf_counter()
        if self._delay_s:
            time.sleep(self._delay_s)
        picture = render_avatar(style, request.user_prompt, request.variation, size=RENDER_SIZE)
        return ProviderResult(
            image=b"",
            provider=self.name,
            model="procedural-v1",
            cost_usd=0.0,
            latency_ms=(time.perf_counter() - started) * 1000,
            picture=picture,
        )
