"""Use cases of the instant gallery: list, look up, suggest, and seed it with procedural avatars."""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.models import Attribution, GalleryItem, GalleryPage
from chalicelib.domain.styles import STYLES, STYLES_BY_ID
from chalicelib.ports import GalleryEntry, ObjectStore

MANIFEST_KEY = "gallery/manifest.json"
GALLERY_SIZES = (128, 256, 512)


@dataclass(frozen=True)
class _Index:
    """The manifest, indexed once per version so that a warm listing is a slice of a list."""

    version: str
    items: tuple[GalleryEntry, ...]  # sorted by id
    by_style: dict[str, tuple[GalleryEntry, ...]]
    by_id: dict[str, GalleryEntry]

    @classmethod
    def build(cls, version: str, entries: Iterable[GalleryEntry]) -> _Index:
        items = tuple(sorted(entries, key=lambda e: e.id))
        by_style: dict[str, list[GalleryEntry]] = {}
        for entry in items:
            by_style.setdefault(entry.style, []).append(entry)
        return cls(
            version,
            items,
            {k: tuple(v) for k, v in by_style.items()},
            {e.id: e for e in items},
        )


def _entry_from_json(raw: dict[str, object]) -> GalleryEntry:
    data = dict(raw)
    data["tags"] = tuple(data.get("tags") or ())  # type: ignore[arg-type]
    return GalleryEntry(**data)  # type: ignore[arg-type]


class GalleryService:
    """The gallery of ready-made avatars, read from a manifest in the object store."""

    def __init__(
        self,
        objects: ObjectStore,
        *,
        revalidate_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._objects = objects
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
            if self._index is None or self._clock() - self._checked_at >= self._revalidate:
                raw = self._objects.get(MANIFEST_KEY)
                version = hashlib.sha256(raw).hexdigest()[:16] if raw else "empty"
                if self._index is None or self._index.version != version:
                    doc = json.loads(raw) if raw else {"items": []}
                    self._index = _Index.build(version, (_entry_from_json(i) for i in doc["items"]))
                self._checked_at = self._clock()
            return self._index

    def publish(self, entries: Iterable[GalleryEntry]) -> None:
        """Replace the manifest in one write: readers see the old gallery or the new one."""
        doc = {"items": [asdict(e) for e in sorted(entries, key=lambda e: e.id)]}
        body = json.dumps(doc, separators=(",", ":")).encode()
        self._objects.put(MANIFEST_KEY, body, "application/json", cache_control="no-cache")
        with self._lock:
            self._index = None

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
        pool = index.by_style.get(style, ()) if style else index.items
        start = bisect.bisect_right(pool, _decode_cursor(cursor), key=lambda e: e.id) if cursor else 0
        page: list[GalleryEntry] = []
        for entry in itertools.islice(pool, start, None):
            if tag and tag not in entry.tags:
                continue
            page.append(entry)
            if len(page) > limit:  # one more than asked tells whether a next page exists
                break
        next_cursor = _encode_cursor(page[limit - 1].id) if len(page) > limit else None
        page = page[:limit]
        return GalleryPage(items=[self.to_item(e) for e in page], next_cursor=next_cursor)

    def get(self, item_id: str) -> GalleryItem:
        entry = self._current().by_id.get(item_id)
        if entry is None:
            raise NotFound("No such gallery item.")
        return self.to_item(entry)

    def entry(self, item_id: str) -> GalleryEntry | None:
        return self._current().by_id.get(item_id)

    def suggest(self, style: str, salt: str, count: int = 6) -> list[dict[str, object]]:
        """Up to ``count`` instant alternatives: mostly the same style, varied per call."""
        index = self._current()
        rng = random.Random(f"{salt}:{time.time_ns()}")
        same = list(index.by_style.get(style, ()))
        others = [e for e in index.items if e.style != style]
        picked = rng.sample(same, min(len(same), count - min(2, len(others))))
        picked += rng.sample(others, min(len(others), count - len(picked)))
        return [self.to_item(e).model_dump(mode="json") for e in picked]

    def default_for(self, user_id: str) -> GalleryEntry | None:
        """A deterministic avatar for a user who chose none: stable procedural items only."""
        stable = [e for e in self._current().items if e.source == "procedural"] or list(self._current().items)
        if not stable:
            return None
        digest = int(hashlib.sha256(user_id.encode()).hexdigest()[:12], 16)
        return stable[digest % len(stable)]

    def preview_url(self, style: str) -> str | None:
        entries = self._current().by_style.get(style)
        return self._image_urls(entries[0])["256"] if entries else None

    def _image_urls(self, entry: GalleryEntry) -> dict[str, str]:
        if entry.external_urls:
            return dict(entry.external_urls)
        return {size: self._objects.public_url(key) for size, key in entry.image_keys.items()}

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
    def ensure_seeded(self, per_style: int) -> int:
        """On first start, fill an empty gallery with procedural avatars; returns items added."""
        if self._current().items or self._objects.exists(MANIFEST_KEY):
            return 0
        entries = list(procedural_entries(self._objects, per_style))
        self.publish(entries)
        return len(entries)


def procedural_entries(objects: ObjectStore, per_style: int) -> Iterable[GalleryEntry]:
    """Render, size and store ``per_style`` procedural avatars for every style (deterministic)."""
    from chalicelib.images import process_image
    from chalicelib.render.procedural import render_avatar

    for style in STYLES:
        for n in range(per_style):
            picture = render_avatar(style, "", 1000 + n, size=512)
            keys = {}
            for rendition in process_image(picture, GALLERY_SIZES):
                # gallery/ never expires in the R2 lifecycle, unlike img/ of unchosen generations.
                key = "gallery/" + rendition.key.split("/", 1)[1]
                objects.put(key, rendition.data, rendition.content_type)
                keys[str(rendition.size)] = key
            yield GalleryEntry(
                id=f"proc-{style.id}-{n:03d}",
                style=style.id,
                tags=(style.look.technique, "illustration", "procedural"),
                source="procedural",
                image_keys=keys,
                license="CC0-1.0",
            )


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
