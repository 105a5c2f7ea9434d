"""One candidate gallery item taken in: deduplicated, its picture stored as the gallery's renditions.

Re-hosted pictures are downloaded (``ImageFetcher``: the source's own hosts only, SSRF-safe),
processed (square, 128/256/512 WebP) and stored under ``gallery/``, content-addressed; hotlinked
ones keep their URLs; renditions already stored (the gallery's own AI jobs) are copied byte for
byte. Duplicates are caught by id, by the downloaded bytes' SHA-256, by picture key and by URL.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from chalicelib.domain.gallery import GalleryEntry, entry_from_json
from chalicelib.domain.styles import STYLES_BY_ID
from chalicelib.ports import (
    DeliveryRefused,
    GallerySource,
    ImageFetcher,
    ImagePipeline,
    ImageRejected,
    ObjectStore,
    SourceItem,
)
from chalicelib.ports.gallery import PublishedItems
from chalicelib.services.gallery.catalog import GALLERY_SIZES

log = logging.getLogger(__name__)

ID_PREFIX: Mapping[str, str] = {"procedural": "proc", "generated_photos": "gp"}
_CONTENT_TYPES: Mapping[str, str] = {"webp": "image/webp", "png": "image/png", "jpg": "image/jpeg"}

Outcome = Literal["added", "known", "duplicate", "skipped"]


def gallery_key(key: str) -> str:
    """The ``gallery/`` twin of a content-addressed key (``img/<digest>.webp``): the same name,
    in the folder that the R2 lifecycle never expires."""
    return "gallery/" + key.split("/", 1)[1]


def entry_id(source: str, source_id: str) -> str:
    """The gallery id of a source's item: stable, URL-safe, and distinct per source."""
    return f"{ID_PREFIX.get(source, source)}-{source_id}"


@dataclass
class RefreshRun:
    """A run's progress: what the checkpoint holds."""

    run_id: str
    staged: dict[str, GalleryEntry] = field(default_factory=dict)
    progress: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)  # SHA-256 of downloaded bytes -> id
    added: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    skipped: int = 0
    unsaved: int = 0

    def dump(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "staged": [asdict(e) for e in self.staged.values()],
            "progress": self.progress,
            "hashes": self.hashes,
            "added": self.added,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> RefreshRun:
        staged = [entry_from_json(raw) for raw in state.get("staged") or [] if isinstance(raw, dict)]
        return cls(
            run_id=str(state["run_id"]),
            staged={e.id: e for e in staged},
            progress=dict(state.get("progress") or {}),
            hashes=dict(state.get("hashes") or {}),
            added=dict(state.get("added") or {}),
            duplicates=int(state.get("duplicates") or 0),
            skipped=int(state.get("skipped") or 0),
        )


@dataclass
class KnownItems:
    """What is in the gallery already (or staged): ids, picture keys, hotlinked URLs, hashes.

    The stored gallery is asked through ``published`` (fingerprints of its ids and pictures: no
    shard is read); the sets hold what this run staged.
    """

    ids: set[str]
    keys: set[str]
    urls: set[str]
    hashes: dict[str, str]
    published: PublishedItems | None = None

    @classmethod
    def of(
        cls,
        entries: Iterable[GalleryEntry],
        hashes: Mapping[str, str],
        published: PublishedItems | None = None,
    ) -> KnownItems:
        known = cls(set(), set(), set(), dict(hashes), published)
        for entry in entries:
            known.add(entry)
        return known

    def add(self, entry: GalleryEntry) -> None:
        self.ids.add(entry.id)
        if entry.image_keys.get("512"):
            self.keys.add(entry.image_keys["512"])
        if entry.external_urls and entry.external_urls.get("512"):
            self.urls.add(entry.external_urls["512"])

    def has_id(self, ident: str) -> bool:
        return ident in self.ids or (self.published is not None and self.published.has_id(ident))

    def has_key(self, key: str) -> bool:
        return key in self.keys or (self.published is not None and self.published.has_picture(key))

    def has_url(self, url: str) -> bool:
        return url in self.urls or (self.published is not None and self.published.has_picture(url))


class GalleryIntake:
    """Takes one source item into a run (see the module docstring)."""

    def __init__(self, objects: ObjectStore, fetcher: ImageFetcher, pipeline: ImagePipeline) -> None:
        self._objects = objects
        self._fetcher = fetcher
        self._pipeline = pipeline

    def take(self, source: GallerySource, item: SourceItem, run: RefreshRun, known: KnownItems) -> Outcome:
        ident = entry_id(source.name, item.source_id)
        if known.has_id(ident):
            return "known"
        if item.style not in STYLES_BY_ID:
            return self._skip(run, source, item, "unknown style")
        if item.external_urls is not None:
            urls = {s: item.external_urls.get(s, "") for s in ("128", "256", "512")}
            if not all(u.startswith("https://") for u in urls.values()):
                return self._skip(run, source, item, "incomplete external URLs")
            if known.has_url(urls["512"]):
                run.duplicates += 1
                return "duplicate"
            entry = self._entry(ident, item, {}, urls)
        elif item.stored_keys is not None:
            stored = {s: item.stored_keys.get(s, "") for s in ("128", "256", "512")}
            if not all("/" in key for key in stored.values()):
                return self._skip(run, source, item, "incomplete stored renditions")
            targets = {s: gallery_key(key) for s, key in stored.items()}
            if known.has_key(targets["512"]):
                run.duplicates += 1
                return "duplicate"
            if not self._copy_renditions(stored, targets):
                return self._skip(run, source, item, "stored image missing")
            entry = self._entry(ident, item, targets, None)
        else:
            picture: Any
            if item.image_url is not None:
                try:
                    picture = self._fetcher.fetch(item.image_url, allowed_hosts=source.allowed_hosts)
                except DeliveryRefused as exc:
                    return self._skip(run, source, item, f"download refused: {exc.reason}")
                digest = hashlib.sha256(picture).hexdigest()
                if digest in known.hashes:
                    run.duplicates += 1
                    return "duplicate"
                known.hashes[digest] = ident
                run.hashes[digest] = ident
            elif item.render is not None:
                picture = item.render()
            else:
                return self._skip(run, source, item, "no picture")
            keys = self._store_renditions(picture)
            if keys is None:
                return self._skip(run, source, item, "not an acceptable image")
            if known.has_key(keys["512"]):
                run.duplicates += 1
                return "duplicate"
            entry = self._entry(ident, item, keys, None)
        known.add(entry)
        run.staged[entry.id] = entry
        run.added[source.name] = run.added.get(source.name, 0) + 1
        return "added"

    def _store_renditions(self, picture: Any) -> dict[str, str] | None:
        """Square, 128/256/512 WebP under ``gallery/`` (content-addressed); None if rejected."""
        try:
            renditions = self._pipeline.renditions(picture, GALLERY_SIZES)
        except ImageRejected as exc:
            log.warning("gallery refresh: image rejected (%s)", exc.reason)
            return None
        keys: dict[str, str] = {}
        for rendition in renditions:
            # gallery/ never expires in the R2 lifecycle, unlike img/ of unchosen generations.
            key = gallery_key(rendition.key)
            self._objects.put(key, rendition.data, rendition.content_type)
            keys[str(rendition.size)] = key
        return keys

    def _copy_renditions(self, stored: Mapping[str, str], keys: Mapping[str, str]) -> bool:
        """Copy renditions that are already processed (a generation's ``img/`` WebPs) to their
        ``gallery/`` keys byte for byte: no second lossy encode, no Pillow. False if one is gone."""
        for size, source_key in stored.items():
            data = self._objects.get(source_key)
            if data is None:
                log.warning("gallery refresh: stored rendition %s is missing", source_key)
                return False
            content_type = _CONTENT_TYPES.get(source_key.rsplit(".", 1)[-1].lower(), "image/webp")
            self._objects.put(keys[size], data, content_type)
        return True

    @staticmethod
    def _entry(
        ident: str, item: SourceItem, keys: Mapping[str, str], urls: Mapping[str, str] | None
    ) -> GalleryEntry:
        return GalleryEntry(
            id=ident,
            style=item.style,
            tags=tuple(item.tags),
            source=item.source,
            image_keys=dict(keys),
            attribution_name=item.attribution_name,
            attribution_url=item.attribution_url,
            license=item.license,
            external_urls=dict(urls) if urls is not None else None,
            download_location=item.download_location,
        )

    @staticmethod
    def _skip(run: RefreshRun, source: GallerySource, item: SourceItem, why: str) -> Outcome:
        run.skipped += 1
        log.warning(
            "gallery refresh: skipped %s item %s (%s)",
            source.name,
            item.source_id,
            why,
            extra={"source": source.name, "item_id": item.source_id},
        )
        return "skipped"
