"""Use cases of the instant gallery: list, look up, suggest, and seed it with procedural avatars."""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import dataclasses
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.models import Attribution, GalleryItem, GalleryPage
from chalicelib.domain.styles import STYLES_BY_ID
from chalicelib.ports import KeyValueStore, ObjectStore, StoreError

log = logging.getLogger(__name__)

MANIFEST_KEY = "gallery/manifest.json"
VERSION_KEY = "gallery:version"  # the manifest's version, written by publish: a cheap revalidation
VERSION_TTL = 30 * 24 * 3600  # for a version a reader records (publish writes it without a TTL)
GALLERY_SIZES = (128, 256, 512)
_ENTRY_FIELDS = frozenset(f.name for f in dataclasses.fields(GalleryEntry))


@dataclass(frozen=True)
class _Pool:
    """Entries sorted by id, with their ids in a plain list: a cursor is one ``bisect``."""

    entries: tuple[GalleryEntry, ...]
    ids: list[str]

    @classmethod
    def of(cls, entries: Iterable[GalleryEntry]) -> _Pool:
        items = tuple(entries)
        return cls(items, [e.id for e in items])


_EMPTY = _Pool((), [])


@dataclass(frozen=True)
class _Index:
    """The manifest, indexed once per version so that a warm listing is a slice of a list.

    Every filter a listing can ask for (none, style, tag, style and tag) has its own sorted
    pool, so a page is a ``bisect`` and a slice whatever the filter. Style pools are built with
    the index; a tag's pools on its first listing (only for tags that exist, so that made-up
    tags cost nothing and are not kept). Each entry's API item is built once per version.
    """

    version: str
    items: tuple[GalleryEntry, ...]  # sorted by id
    everything: _Pool
    by_style: dict[str, _Pool]
    tags: frozenset[str]
    by_id: dict[str, GalleryEntry]
    procedural: tuple[GalleryEntry, ...]
    tag_pools: dict[tuple[str | None, str], _Pool] = field(default_factory=dict)
    rendered: dict[str, GalleryItem] = field(default_factory=dict)

    @classmethod
    def build(cls, version: str, entries: Iterable[GalleryEntry]) -> _Index:
        items = tuple(sorted({e.id: e for e in entries}.values(), key=lambda e: e.id))
        by_style: dict[str, list[GalleryEntry]] = {}
        tags: set[str] = set()
        for entry in items:
            by_style.setdefault(entry.style, []).append(entry)
            tags.update(entry.tags)
        return cls(
            version=version,
            items=items,
            everything=_Pool.of(items),
            by_style={k: _Pool.of(v) for k, v in by_style.items()},
            tags=frozenset(tags),
            by_id={e.id: e for e in items},
            procedural=tuple(e for e in items if e.source == "procedural"),
        )

    def pool(self, style: str | None, tag: str | None) -> _Pool:
        base = self.by_style.get(style, _EMPTY) if style else self.everything
        if not tag:
            return base
        if tag not in self.tags:
            return _EMPTY
        pool = self.tag_pools.get((style, tag))
        if pool is None:  # once per tag (and style) and version; a race only builds it twice
            pool = self.tag_pools[(style, tag)] = _Pool.of(e for e in base.entries if tag in e.tags)
        return pool


def _version_of(raw: bytes | None) -> str:
    return hashlib.sha256(raw).hexdigest()[:16] if raw else "empty"


def entry_from_json(raw: dict[str, object]) -> GalleryEntry:
    # Fields this version does not know (a newer writer's) are ignored rather than fatal.
    data = dict(raw) if raw.keys() <= _ENTRY_FIELDS else {k: v for k, v in raw.items() if k in _ENTRY_FIELDS}
    data["tags"] = tuple(data.get("tags") or ())  # type: ignore[arg-type]
    return GalleryEntry(**data)  # type: ignore[arg-type]


class GalleryService:
    """The gallery of ready-made avatars, read from a manifest in the object store.

    The manifest is indexed in memory and revalidated every ``revalidate_seconds``: with a
    state store, revalidating is one small read of ``gallery:version`` (written by
    :meth:`publish`), and the manifest itself is downloaded again only when that changed; a
    listing within the interval makes no call at all. Without a store (or when it is down)
    revalidating reads the manifest and compares its hash.
    """

    def __init__(
        self,
        objects: ObjectStore,
        *,
        kv: KeyValueStore | None = None,
        revalidate_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._objects = objects
        self._kv = kv
        self._revalidate = revalidate_seconds
        self._clock = clock
        self._index: _Index | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    # -- manifest ------------------------------------------------------------------------------
    def _current(self) -> _Index:
        index = self._index
        if index is not None and self._clock() - self._checked_at < self._revalidate:
            return index
        with self._lock:
            index = self._index
            if index is None or self._clock() - self._checked_at >= self._revalidate:
                index = self._revalidated(index)
                self._index = index
                self._checked_at = self._clock()
            return index

    def _revalidated(self, index: _Index | None) -> _Index:
        """The index of the current manifest: ``index`` itself when the version is unchanged."""
        stored: str | None = None
        store_ok = self._kv is not None and index is not None
        if self._kv is not None and index is not None:
            try:
                stored = self._kv.get(VERSION_KEY)
            except StoreError:
                store_ok = False
                log.warning("state store unavailable; revalidating the gallery from the manifest")
            if stored is not None and stored == index.version:
                return index
        raw = self._objects.get(MANIFEST_KEY)
        version = _version_of(raw)
        if index is None or index.version != version:
            doc = json.loads(raw) if raw else {"items": []}
            index = _Index.build(version, (entry_from_json(i) for i in doc["items"]))
        if self._kv is not None and store_ok and stored is None and raw:
            # A manifest written without a store: record its version so that the next
            # revalidation is cheap (NX: never over a version that a publish wrote).
            with contextlib.suppress(StoreError):
                self._kv.set_once(VERSION_KEY, version, VERSION_TTL)
        return index

    def read_entries(self) -> tuple[GalleryEntry, ...]:
        """The manifest's entries as stored now, bypassing the in-memory index (for writers)."""
        raw = self._objects.get(MANIFEST_KEY)
        doc = json.loads(raw) if raw else {"items": []}
        return tuple(entry_from_json(i) for i in doc["items"])

    def publish(self, entries: Iterable[GalleryEntry]) -> str:
        """Replace the manifest in one write: readers see the old gallery or the new one.

        Then record the new version in the state store, so that every reader picks it up at
        its next revalidation. Returns the version.
        """
        ordered = sorted({e.id: e for e in entries}.values(), key=lambda e: e.id)
        doc = {"items": [asdict(e) for e in ordered]}
        body = json.dumps(doc, separators=(",", ":")).encode()
        self._objects.put(MANIFEST_KEY, body, "application/json", cache_control="no-cache")
        version = _version_of(body)
        if self._kv is not None:
            try:
                self._kv.set(VERSION_KEY, version)
            except StoreError:
                log.error("the gallery was published but its version could not be recorded")
        index = _Index.build(version, ordered)
        with self._lock:
            self._index = index
            self._checked_at = self._clock()
        return version

    def entries(self) -> tuple[GalleryEntry, ...]:
        return self._current().items

    # -- reads ---------------------------------------------------------------------------------
    def page(self, style: str | None, tag: str | None, limit: int, cursor: str | None) -> GalleryPage:
        """One page of the gallery, filtered by style and tag, ordered by id (stable cursors)."""
        if style is not None and style not in STYLES_BY_ID:
            raise InvalidRequest(
                f"Unknown style {style!r}; see GET /v1/styles.",
                details=[{"field": "style", "message": "unknown style"}],
            )
        index = self._current()
        pool = index.pool(style, tag)
        start = bisect.bisect_right(pool.ids, _decode_cursor(cursor)) if cursor else 0
        chunk = pool.entries[start : start + limit + 1]  # one more than asked: is there a next page?
        next_cursor = _encode_cursor(chunk[limit - 1].id) if len(chunk) > limit else None
        return GalleryPage(items=[self._item(index, e) for e in chunk[:limit]], next_cursor=next_cursor)

    def get(self, item_id: str) -> GalleryItem:
        index = self._current()
        entry = index.by_id.get(item_id)
        if entry is None:
            raise NotFound("No such gallery item.")
        return self._item(index, entry)

    def entry(self, item_id: str) -> GalleryEntry | None:
        return self._current().by_id.get(item_id)

    def suggest(self, style: str, salt: str, count: int = 6) -> list[dict[str, object]]:
        """Up to ``count`` instant alternatives: mostly the same style, varied per call."""
        index = self._current()
        rng = random.Random(f"{salt}:{time.time_ns()}")
        same = index.by_style.get(style, _EMPTY).entries
        n_others = len(index.items) - len(same)
        picked = rng.sample(same, min(len(same), count - min(2, n_others)))
        wanted = min(n_others, count - len(picked))
        if wanted > 0 and n_others >= 4 * wanted:
            # Mostly other styles: draw positions until enough of them are other styles.
            chosen: dict[int, None] = {}
            while len(chosen) < wanted:
                position = rng.randrange(len(index.items))
                if index.items[position].style != style:
                    chosen[position] = None
            picked += [index.items[p] for p in chosen]
        elif wanted > 0:
            picked += rng.sample([e for e in index.items if e.style != style], wanted)
        return [self._item(index, e).model_dump(mode="json") for e in picked]

    def default_for(self, user_id: str) -> GalleryEntry | None:
        """A deterministic avatar for a user who chose none: stable procedural items only."""
        index = self._current()
        stable = index.procedural or index.items
        if not stable:
            return None
        digest = int(hashlib.sha256(user_id.encode()).hexdigest()[:12], 16)
        return stable[digest % len(stable)]

    def preview_url(self, style: str) -> str | None:
        pool = self._current().by_style.get(style)
        return self._image_urls(pool.entries[0])["256"] if pool and pool.entries else None

    def _image_urls(self, entry: GalleryEntry) -> dict[str, str]:
        if entry.external_urls:
            return dict(entry.external_urls)
        return {size: self._objects.public_url(key) for size, key in entry.image_keys.items()}

    def _item(self, index: _Index, entry: GalleryEntry) -> GalleryItem:
        """The API item of an entry, built once per manifest version."""
        item = index.rendered.get(entry.id)
        if item is None:
            item = index.rendered[entry.id] = self.to_item(entry)
        return item

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

    # -- seeding -------------------------------------------------------------------------------
    def ensure_seeded(self, seed: Callable[[], Iterable[GalleryEntry]]) -> int:
        """On first start, fill an empty gallery with ``seed()``'s entries; returns items added."""
        if self._current().items or self._objects.exists(MANIFEST_KEY):
            return 0
        entries = list(seed())
        self.publish(entries)
        return len(entries)


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
