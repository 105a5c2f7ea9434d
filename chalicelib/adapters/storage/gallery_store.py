"""The gallery port over any object store: the layout of ``gallery_layout.py`` in objects.

One class for every stage: the embedded run gives it the local directory, production R2 (or S3,
Supabase Storage); the format does not depend on the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from chalicelib.adapters.storage.gallery_layout import (
    INDEX_KEY,
    INLINE_ITEMS,
    GalleryIndex,
    Locator,
    StyleMeta,
)
from chalicelib.adapters.storage.gallery_shard import Shard
from chalicelib.adapters.storage.gallery_writer import (
    MANIFEST_KEY,
    GalleryWriter,
    PublishedItems,
    legacy_entries,
)
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.ports import ObjectStore
from chalicelib.ports.gallery import StyleSummary

EMPTY_VERSION = "empty"
_EMPTY_INDEX = GalleryIndex(0, {}, None, None)


def version_of(raw: bytes | None) -> str:
    """A stored index's version: a hash of its bytes (what ``gallery:version`` records)."""
    return hashlib.sha256(raw).hexdigest()[:16] if raw else EMPTY_VERSION


class ObjectGalleryStore:
    """The gallery's index, shards, locator and fingerprints as objects of an ``ObjectStore``.

    A gallery still stored as one old ``manifest.json`` is read whole, as an index whose styles
    are all inline, and written in the current layout by the next publish.
    """

    def __init__(self, objects: ObjectStore, *, inline_items: int = INLINE_ITEMS) -> None:
        self._objects = objects
        self._writer = GalleryWriter(objects, inline_items=inline_items)

    def read_index(self, known: str | None = None) -> tuple[str, GalleryIndex | None]:
        raw, legacy = self._objects.get(INDEX_KEY), False
        if raw is None:
            raw = self._objects.get(MANIFEST_KEY)
            legacy = raw is not None
        version = version_of(raw)
        if version == known:
            return version, None
        if raw is None:
            return version, _EMPTY_INDEX
        if legacy:
            return version, GalleryIndex.of_entries(legacy_entries(raw))
        return version, GalleryIndex.decode(raw)

    def shard(self, key: str) -> Shard | None:
        body = self._objects.get(key)
        return None if body is None else Shard.decode(key, body)

    def inline_shard(self, summary: StyleSummary) -> Shard | None:
        if not isinstance(summary, StyleMeta) or summary.inline is None:
            return None
        return Shard.decode(summary.key, summary.inline)

    def locator(self, key: str) -> Locator | None:
        body = self._objects.get(key)
        return None if body is None else Locator.decode(body)

    def publish(self, entries: Iterable[GalleryEntry]) -> tuple[str, GalleryIndex]:
        return self._install(self._writer.publish(entries))

    def add(self, entries: Iterable[GalleryEntry]) -> tuple[str, GalleryIndex] | None:
        body = self._writer.add(entries)
        return None if body is None else self._install(body)

    def published(self) -> PublishedItems:
        return self._writer.published()

    def unconverted(self) -> list[GalleryEntry] | None:
        raw = self._objects.get(MANIFEST_KEY)
        if raw is None:
            return None
        return legacy_entries(raw) if raw else []

    def has_index(self) -> bool:
        return self._objects.get(INDEX_KEY) is not None

    def public_url(self, key: str) -> str:
        return self._objects.public_url(key)

    def _install(self, body: bytes) -> tuple[str, GalleryIndex]:
        self._writer.write_index(body)
        return version_of(body), GalleryIndex.decode(body)
