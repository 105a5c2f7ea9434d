"""Helpers for the provider adapter tests: a real tiny PNG, a public resolver, requests."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx

from chalicelib.ports import ProviderRequest

PUBLIC_IP = "93.184.216.34"  # a public address, so that no test needs DNS


def public_resolver(host: str) -> list[str]:
    return [PUBLIC_IP]


def png_bytes(size: int = 8, color: tuple[int, int, int] = (200, 40, 90)) -> bytes:
    """A real PNG made with Pillow."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png_bytes()
PNG_B64 = base64.b64encode(PNG).decode("ascii")
PNG_DATA_URI = f"data:image/png;base64,{PNG_B64}"


def make_request(quality: str = "fast", size: int = 512, seed: int = 424242) -> ProviderRequest:
    return ProviderRequest(
        style_id="watercolor",
        prompt="a watercolor portrait of a fox, soft light",
        user_prompt="a fox",
        variation=3,
        seed=seed,
        size=size,
        quality=quality,
    )


def body_of(request: httpx.Request) -> dict[str, Any]:
    loaded = json.loads(request.content)
    assert isinstance(loaded, dict)
    return loaded


def png_response(**headers: str) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "image/png", **headers}, content=PNG)
