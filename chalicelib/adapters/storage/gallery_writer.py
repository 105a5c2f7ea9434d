"""Writing the gallery: a whole new gallery, or new items added to the styles they belong to.

Either way the shards, the locator and the picture fingerprints are written first (content-
addressed: an unchanged one keeps its key and is not written again), and the caller writes the
index last, in one put. Adding reads the index, the locator, the picture fingerprints and the
shards of the styles it touches, never the others; an old single manifest is read whole, once,
and the gallery is then written in this layout.

Shards that a new index no longer names are left where they are: a reader still on the previous
version may ask for them. Nothing deletes them yet (no sweep knows when the last reader of an older
version is gone), and an age-based lifecycle rule cannot tell them from shards still in use (an untouched style keeps its
old object), so they accumulate: one shard per touched style and publish.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.storage.gallery_layout import (
    INDEX_KEY,
    INLINE_ITEMS,
    GalleryIndex,
    Locator,
    Pictures,
    StyleMeta,
    build_style,
    by_style,
    encode_index,
    fingerprint,
    picture_of,
)
from chalicelib.adapters.storage.gallery_shard import Shard
from chalicelib.domain.gallery import GalleryEntry, entry_from_json
from chalicelib.ports import ObjectStore

MANIFEST_KEY = "gallery/manifest.json"  # the layout before shards: one document, still read
_JSON = "application/json"
_JSON_LINES = "application/x-ndjson"
_BINARY = "application/octet-stream"


def legacy_entries(raw: bytes) -> list[GalleryEntry]:
    return [entry_from_json(item) for item in json.loads(raw)["items"]]


@dataclass(frozen=True)
class PublishedItems:
    """What is in the stored gallery, as the refresh asks it: by id and by picture."""

    total: int
    legacy: bool  # stored as an old single manifest: the next write moves it to this layout
    _locator: Locator | None
    _pictures: Pictures | None
    _ids: frozenset[str] = frozenset()  # a small or old gallery: exact sets
    _picture_set: frozenset[str] = frozenset()

    def has_id(self, item_id: str) -> bool:
        return item_id in self._ids or (self._locator is not None and bool(self._locator.styles_of(item_id)))

    def has_picture(self, picture: str) -> bool:
        return picture in self._picture_set or (self._pictures is not None and picture in self._pictures)


class GalleryWriter:
    """Writes everything but the index (see the module docstring); returns the index's bytes."""

    def __init__(self, objects: ObjectStore, *, inline_items: int = INLINE_ITEMS) -> None:
        self._objects = objects
        self._inline = inline_items

    def stored(self) -> tuple[GalleryIndex | None, list[GalleryEntry]]:
        """The stored index, or (None, the old manifest's entries, possibly none)."""
        raw = self._objects.get(INDEX_KEY)
        if raw is not None:
            return GalleryIndex.decode(raw), []
        legacy = self._objects.get(MANIFEST_KEY)
        return None, legacy_entries(legacy) if legacy else []

    def published(self) -> PublishedItems:
        index, legacy = self.stored()
        if index is None:
            ids = frozenset(e.id for e in legacy)
            seen = frozenset(p for p in map(picture_of, legacy) if p)
            return PublishedItems(len(legacy), bool(legacy), None, None, ids, seen)
        locator, pictures = self._fingerprints(index)
        return PublishedItems(index.count, False, locator, pictures)

    def publish(self, entries: Iterable[GalleryEntry]) -> bytes:
        """A whole new gallery: ``entries`` (a later one replaces an earlier one's id)."""
        groups = by_style(entries)
        styles = {style: self._write_style(style, group) for style, group in groups.items()}
        every = [e for group in groups.values() for e in group]
        locator = Locator.of((fingerprint(e.id), e.style) for e in every)
        pictures = Pictures.of(fingerprint(p) for p in map(picture_of, every) if p)
        return self._finish(styles, locator, pictures)

    def add(self, entries: Iterable[GalleryEntry]) -> bytes | None:
        """``entries`` added to the stored gallery (replacing items of the same id); None when
        there is nothing to write. Reads only the shards of the styles that change."""
        new = {e.id: e for e in entries}
        index, legacy = self.stored()
        if index is None:
            return self.publish([*legacy, *new.values()]) if legacy or new else None
        if not new:
            return None
        locator, pictures = self._fingerprints(index)
        touched = {e.style for e in new.values()}
        for item_id in new:  # an item moving to another style leaves its old shard
            touched.update(locator.styles_of(item_id))
        styles: dict[str, Mapping[str, Any]] = {s: m.raw for s, m in index.styles.items()}
        dropped: set[int] = set()  # pictures of the items replaced
        for style in sorted(touched):
            meta = index.styles.get(style)
            old = self._entries(meta) if meta is not None else []
            dropped.update(fingerprint(p) for e in old if e.id in new and (p := picture_of(e)))
            kept = [e for e in old if e.id not in new]
            group = sorted([*kept, *(e for e in new.values() if e.style == style)], key=lambda e: e.id)
            if group:
                styles[style] = self._write_style(style, group)
            else:
                styles.pop(style, None)
        replaced = {fingerprint(i) for i in new}
        locator = Locator.of(
            [
                *((h, s) for h, s in locator.pairs() if h not in replaced),
                *((fingerprint(e.id), e.style) for e in new.values()),
            ]
        )
        added = {fingerprint(p) for p in map(picture_of, new.values()) if p}
        pictures = Pictures.of([*(h for h in pictures.hashes if h not in dropped), *added])
        return self._finish(styles, locator, pictures)

    # -- the parts --------------------------------------------------------------------------------

    def _write_style(self, style: str, group: list[GalleryEntry]) -> dict[str, Any]:
        meta, body = build_style(style, group, self._inline)
        if body is not None:
            self._put_new(meta["key"], body, _JSON_LINES)
        return meta

    def _finish(self, styles: Mapping[str, Mapping[str, Any]], locator: Locator, pictures: Pictures) -> bytes:
        locator_body, pictures_body = locator.encode(), pictures.encode()
        locator_key, pictures_key = locator.key(locator_body), pictures.key(pictures_body)
        self._put_new(locator_key, locator_body, _BINARY)
        self._put_new(pictures_key, pictures_body, _BINARY)
        return encode_index(styles, locator_key, pictures_key)

    def _put_new(self, key: str, body: bytes, content_type: str) -> None:
        # Content-addressed: an object of that key already holds these bytes.
        if not self._objects.exists(key):
            self._objects.put(key, body, content_type)

    def _entries(self, meta: StyleMeta) -> list[GalleryEntry]:
        body = meta.inline if meta.inline is not None else self._need(meta.key)
        return list(Shard.decode(meta.key, body).entries())

    def _fingerprints(self, index: GalleryIndex) -> tuple[Locator, Pictures]:
        if index.locator is None or index.pictures is None:
            raise LookupError("a stored gallery index without its locator")
        return Locator.decode(self._need(index.locator)), Pictures.decode(self._need(index.pictures))

    def _need(self, key: str) -> bytes:
        body = self._objects.get(key)
        if body is None:
            raise LookupError(f"{key} is named by the gallery index but missing")
        return body

    def write_index(self, body: bytes) -> None:
        self._objects.put(INDEX_KEY, body, _JSON, cache_control="no-cache")
