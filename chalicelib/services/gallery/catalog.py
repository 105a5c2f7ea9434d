"""Use cases of the instant gallery: list, look up, suggest, and seed it with procedural avatars."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.styles import STYLES_BY_ID
from chalicelib.ports import KeyValueStore, StoreError
from chalicelib.ports.gallery import GalleryIndex, GalleryShard, GalleryStore, PublishedItems, StyleSummary
from chalicelib.schemas.models import Attribution, GalleryItem, GalleryPage
from chalicelib.services.gallery.cache import RENDERED_ITEMS, SHARD_BUDGET, RenderedItems, ShardCache

__all__ = ["GALLERY_SIZES", "VERSION_KEY", "GalleryService"]

log = logging.getLogger(__name__)

VERSION_KEY = "gallery:version"  # the index's version, written by publish: a cheap revalidation
NOTHING_STORED = "empty"  # the version of no gallery at all (the GalleryStore port's)
VERSION_TTL = 30 * 24 * 3600  # for a version a reader records (publish writes it without a TTL)
GALLERY_SIZES = (128, 256, 512)


@dataclass(frozen=True)
class _View:
    """One version of the gallery: its index, and its inline shards once decoded."""

    version: str
    index: GalleryIndex
    inline: dict[str, GalleryShard] = field(default_factory=dict)


class GalleryService:
    """The gallery of ready-made avatars, read from the object store one style at a time.

    A container reads the small index (the ``GalleryStore`` port), then only the shards that its
    requests need, and keeps them within a memory budget. The index is revalidated every
    ``revalidate_seconds``: with a state store, revalidating is one small read of
    ``gallery:version`` (written by :meth:`publish` and :meth:`add`), and the index is read again
    only when that changed; a listing within the interval makes no call at all. Without a store
    (or when it is down) revalidating reads the index and compares its hash. A gallery still
    stored as one old ``manifest.json`` is read whole, and written in this layout by the next
    publish, refresh or seeding.
    """

    def __init__(
        self,
        store: GalleryStore,
        *,
        kv: KeyValueStore | None = None,
        revalidate_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        shard_budget: int = SHARD_BUDGET,
        rendered_items: int = RENDERED_ITEMS,
    ) -> None:
        self._store = store
        self._kv = kv
        self._revalidate = revalidate_seconds
        self._clock = clock
        self._shards = ShardCache(store, shard_budget)
        self._items = RenderedItems(rendered_items)
        self._view: _View | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    # -- versions ------------------------------------------------------------------------------
    def _current(self) -> _View:
        view = self._view
        if view is not None and self._clock() - self._checked_at < self._revalidate:
            return view
        with self._lock:
            view = self._view
            if view is None or self._clock() - self._checked_at >= self._revalidate:
                view = self._revalidated(view)
                self._view = view
                self._checked_at = self._clock()
            return view

    def _revalidated(self, view: _View | None) -> _View:
        """The current version: ``view`` itself when it is unchanged."""
        stored: str | None = None
        store_ok = self._kv is not None and view is not None
        if self._kv is not None and view is not None:
            try:
                stored = self._kv.get(VERSION_KEY)
            except StoreError:
                store_ok = False
                log.warning("state store unavailable; revalidating the gallery from its index")
            if stored is not None and stored == view.version:
                return view
        version, index = self._store.read_index(view.version if view is not None else None)
        if index is not None:
            view = _View(version, index)
        if view is None:  # not reached: a version not known comes with its index
            raise LookupError("the gallery store gave no index")
        if self._kv is not None and store_ok and stored is None and version != NOTHING_STORED:
            # An index written without a store: record its version so that the next
            # revalidation is cheap (NX: never over a version that a publish wrote).
            with contextlib.suppress(StoreError):
                self._kv.set_once(VERSION_KEY, version, VERSION_TTL)
        return view

    def publish(self, entries: Iterable[GalleryEntry]) -> str:
        """Replace the gallery: shards first, then the index in one put, so that readers see
        the old gallery or the new one. Then record the new version in the state store, so that
        every reader picks it up at its next revalidation. Returns the version."""
        return self._install(*self._store.publish(entries))

    def add(self, entries: Iterable[GalleryEntry]) -> str:
        """Add ``entries`` (replacing items of the same id), rewriting only the styles they
        touch; as atomic for readers as :meth:`publish`. Returns the version."""
        written = self._store.add(entries)
        return self._current().version if written is None else self._install(*written)

    def _install(self, version: str, index: GalleryIndex) -> str:
        if self._kv is not None:
            try:
                self._kv.set(VERSION_KEY, version)
            except StoreError:
                log.error("the gallery was published but its version could not be recorded")
        view = _View(version, index)
        with self._lock:
            self._view = view
            self._checked_at = self._clock()
        return version

    def published(self) -> PublishedItems:
        """The stored gallery's ids and pictures (read now, for writers), without its shards."""
        return self._store.published()

    def count(self) -> int:
        return self._current().index.count

    def entries(self) -> tuple[GalleryEntry, ...]:
        """Every entry, sorted by id: reads every shard (for tools and tests, not requests)."""
        view = self._current()
        shards = (self._shard(view, style) for style in view.index.styles)
        return tuple(sorted((e for s in shards if s is not None for e in s.entries()), key=lambda e: e.id))

    # -- reads ---------------------------------------------------------------------------------
    def page(self, style: str | None, tag: str | None, limit: int, cursor: str | None) -> GalleryPage:
        """One page of the gallery, filtered by style and tag, ordered by id (stable cursors).

        A style reads that style's shard only; no style merges the styles' shards by id.
        """
        if style is not None and style not in STYLES_BY_ID:
            raise InvalidRequest(
                f"Unknown style {style!r}; see GET /v1/styles.",
                details=[{"field": "style", "message": "unknown style"}],
            )
        view = self._current()
        after = _decode_cursor(cursor) if cursor else None
        names = [style] if style else sorted(view.index.styles)
        shards = [s for s in (self._shard(view, n) for n in names) if s is not None]
        # Each shard's next ``limit + 1`` items, then the first ``limit + 1`` of them all by id
        # (ids are unique across styles; sorting plain strings is the cheap way to merge ten).
        where: dict[str, tuple[GalleryShard, int]] = {}
        for shard in shards:
            ids = shard.ids
            for position in shard.after(tag, after, limit + 1):
                where[ids[position]] = (shard, position)
        chunk = sorted(where)[: limit + 1] if len(shards) > 1 else list(where)
        next_cursor = _encode_cursor(chunk[limit - 1]) if len(chunk) > limit else None
        return GalleryPage(
            items=[self._rendered_at(*where[i]) for i in chunk[:limit]], next_cursor=next_cursor
        )

    def get(self, item_id: str) -> GalleryItem:
        found = self._find(self._current(), item_id)
        if found is None:
            raise NotFound("No such gallery item.")
        return self._rendered_at(*found)

    def entry(self, item_id: str) -> GalleryEntry | None:
        found = self._find(self._current(), item_id)
        return found[0].entry(found[1]) if found else None

    def suggest(self, style: str, salt: str, count: int = 6) -> list[dict[str, object]]:
        """Up to ``count`` instant alternatives: mostly the same style, varied per call. From the
        index's samples: a refusal on a cold container reads no shard."""
        view = self._current()
        rng = random.Random(f"{salt}:{time.time_ns()}")
        styles = view.index.styles
        same = list(styles[style].sample) if style in styles else []
        n_others = view.index.count - (styles[style].count if style in styles else 0)
        picked = rng.sample(same, min(len(same), count - min(2, n_others)))
        others = [e for s, meta in styles.items() if s != style for e in meta.sample]
        picked += rng.sample(others, min(len(others), n_others, count - len(picked)))
        return [self._rendered_entry(view.version, e).model_dump(mode="json") for e in picked]

    def default_for(self, user_id: str) -> GalleryEntry | None:
        """A deterministic avatar for a user who chose none: stable procedural items only (any
        item if there are none), the same one for the same gallery. Reads one shard."""
        view = self._current()
        digest = int(hashlib.sha256(user_id.encode()).hexdigest()[:12], 16)
        where = _default_position(view.index, digest)
        if where is None:
            return None
        meta, rank, stable = where
        shard = self._shard(view, meta.style)
        positions: Sequence[int] = ()
        if shard is not None:
            positions = shard.stable() if stable else range(len(shard.ids))
        if shard is None or rank >= len(positions):
            return meta.sample[0]  # the shard is unreadable: still an avatar, if not the usual one
        return shard.entry(positions[rank])

    def preview_url(self, style: str) -> str | None:
        meta = self._current().index.styles.get(style)
        return self._image_urls(meta.sample[0])["256"] if meta and meta.sample else None

    def _image_urls(self, entry: GalleryEntry) -> dict[str, str]:
        if entry.external_urls:
            return dict(entry.external_urls)
        return {size: self._store.public_url(key) for size, key in entry.image_keys.items()}

    def _rendered_at(self, shard: GalleryShard, position: int) -> GalleryItem:
        item_id = shard.ids[position]
        item = self._items.get(shard.key, item_id)
        if item is None:
            item = self._items.put(shard.key, item_id, self.to_item(shard.entry(position)))
        return item

    def _rendered_entry(self, scope: str, entry: GalleryEntry) -> GalleryItem:
        item = self._items.get(scope, entry.id)
        return item if item is not None else self._items.put(scope, entry.id, self.to_item(entry))

    def to_item(self, entry: GalleryEntry) -> GalleryItem:
        attribution = None
        if entry.attribution_name and entry.attribution_url:
            attribution = Attribution(name=entry.attribution_name, url=entry.attribution_url)
        return GalleryItem(
            id=entry.id,
            style=entry.style,
            tags=list(entry.tags),
            source=entry.source,
            images=self._image_urls(entry),
            attribution=attribution,
            license=entry.license,
        )

    # -- shards --------------------------------------------------------------------------------
    def _shard(self, view: _View, style: str) -> GalleryShard | None:
        meta = view.index.styles.get(style)
        if meta is None:
            return None
        shard = self._inline(view, meta)
        return shard if shard is not None else self._shards.load(meta.key)

    def _inline(self, view: _View, meta: StyleSummary) -> GalleryShard | None:
        if meta.inline is None:
            return None
        shard = view.inline.get(meta.style)
        if shard is None:  # a race only decodes it twice
            shard = self._store.inline_shard(meta)
            if shard is None:
                return None
            view.inline[meta.style] = shard
        return shard

    def _find(self, view: _View, item_id: str) -> tuple[GalleryShard, int] | None:
        """Where an item is: the shards at hand first, then the locator names its style's."""
        unread = False
        for meta in view.index.styles.values():
            shard = self._inline(view, meta)
            if shard is None:
                shard = self._shards.peek(meta.key)
            if shard is None:
                unread = True
            elif (position := shard.position(item_id)) is not None:
                return shard, position
        locator = self._shards.locator(view.index.locator) if unread and view.index.locator else None
        for style in locator.styles_of(item_id) if locator else ():
            shard = self._shard(view, style)
            if shard is not None and (position := shard.position(item_id)) is not None:
                return shard, position
        return None

    # -- seeding -------------------------------------------------------------------------------
    def ensure_seeded(self, seed: Callable[[], Iterable[GalleryEntry]]) -> int:
        """On first start, fill an empty gallery with ``seed()``'s entries; returns items added.
        A gallery stored as an old manifest is written in the current layout instead."""
        if self._store.has_index():
            return 0
        legacy = self._store.unconverted()
        if legacy is not None:
            self.publish(legacy)
            return 0
        entries = list(seed())
        self.publish(entries)
        return len(entries)


def _default_position(index: GalleryIndex, digest: int) -> tuple[StyleSummary, int, bool] | None:
    """Where the default avatar of ``digest`` is: a style, a rank, and whether the rank counts
    procedural items only (when there are any) or every item."""
    stable = sum(m.stable for m in index.styles.values()) > 0
    total = sum(m.stable if stable else m.count for m in index.styles.values())
    if total == 0:
        return None
    rank = digest % total
    for style in sorted(index.styles):
        meta = index.styles[style]
        size = meta.stable if stable else meta.count
        if rank < size:
            return meta, rank, stable
        rank -= size
    return None  # unreachable: the ranks add up to total


def _encode_cursor(item_id: str) -> str:
    return base64.urlsafe_b64encode(item_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value = ""
    if not value or len(value) > 128:
        raise InvalidRequest("The cursor is not valid.", details=[{"field": "cursor", "message": "invalid"}])
    return value
