"""A gallery item as the gallery's shards store it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class GalleryEntry:
    """One gallery item as stored: image keys, not URLs."""

    id: str
    style: str
    tags: tuple[str, ...]
    source: str
    image_keys: Mapping[str, str]
    attribution_name: str | None = None
    attribution_url: str | None = None
    license: str = "CC0-1.0"
    external_urls: Mapping[str, str] | None = None  # hotlinked sources (Unsplash) are not re-hosted
    download_location: str | None = None  # Unsplash: to be called when a user picks this photo
