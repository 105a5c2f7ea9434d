"""A gallery item as the gallery's shards store it."""

from __future__ import annotations

import dataclasses
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


_ENTRY_FIELDS = frozenset(f.name for f in dataclasses.fields(GalleryEntry))


def entry_from_json(raw: Mapping[str, object]) -> GalleryEntry:
    """A manifest item (an ``asdict`` of :class:`GalleryEntry`) as an entry."""
    # Fields this version does not know (a newer writer's) are ignored rather than fatal.
    data = dict(raw) if raw.keys() <= _ENTRY_FIELDS else {k: v for k, v in raw.items() if k in _ENTRY_FIELDS}
    data["tags"] = tuple(data.get("tags") or ())  # type: ignore[arg-type]
    return GalleryEntry(**data)  # type: ignore[arg-type]
