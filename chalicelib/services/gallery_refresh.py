"""The gallery refresh: new items from every source, added to the gallery in one publish.

The job is

- **incremental**: items already in the gallery are skipped by id (``<source>-<source id>``)
  and re-hosted pictures by content (the SHA-256 of the downloaded bytes within a run, and the
  content-addressed key of the processed picture across runs), hotlinked ones by URL;
- **bounded**: each source adds at most ``source.per_run`` items per style and run, and keeps to
  its own request limits (a rate-limited source is skipped until its quota resets);
- **resumable**: progress (the items staged so far, each source's page cursor and counts) is
  checkpointed in the state store every few items; a run that crashes is resumed by the next
  one, and re-hosted images are content-addressed, so doing an item twice is harmless;
- **atomic for readers**: the manifest is written once, at the end, in one put; a listing
  during a refresh sees the old gallery or the new one, never half of it.

Only one refresh runs at a time (a lock in the state store, with a TTL in case a runner dies).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from chalicelib.domain.styles import STYLES_BY_ID
from chalicelib.fetch import DEFAULT_MAX_BYTES, FetchRefused, Resolver, fetch_image
from chalicelib.ports import (
    GalleryEntry,
    GallerySource,
    ObjectStore,
    SourceAuthError,
    SourceError,
    SourceItem,
    SourceRateLimited,
    StateStore,
    StoreError,
)
from chalicelib.services.gallery import GALLERY_SIZES, GalleryService, entry_from_json

__all__ = ["CHECKPOINT_KEY", "LOCK_KEY", "GalleryRefresh", "RefreshReport", "entry_id"]

log = logging.getLogger(__name__)

LOCK_KEY = "gallery:refresh:lock"
CHECKPOINT_KEY = "gallery:refresh:checkpoint"
CURSORS_KEY = "gallery:refresh:cursors"
COOLDOWNS_KEY = "gallery:refresh:cooldowns"
CHECKPOINT_TTL = 7 * 24 * 3600
CURSORS_TTL = 90 * 24 * 3600
DEFAULT_COOLDOWN_S = 3600.0
ID_PREFIX: Mapping[str, str] = {"procedural": "proc", "generated_photos": "gp"}

Outcome = Literal["added", "known", "duplicate", "skipped"]
Status = Literal["published", "unchanged", "busy"]


_CONTENT_TYPES: Mapping[str, str] = {"webp": "image/webp", "png": "image/png", "jpg": "image/jpeg"}


def _gallery_key(key: str) -> str:
    """The ``gallery/`` twin of a content-addressed key (``img/<digest>.webp``): the same name,
    in the folder that the R2 lifecycle never expires."""
    return "gallery/" + key.split("/", 1)[1]


def entry_id(source: str, source_id: str) -> str:
    """The gallery id of a source's item: stable, URL-safe, and distinct per source."""
    return f"{ID_PREFIX.get(source, source)}-{source_id}"


@dataclass
class RefreshReport:
    """What one run did (also the body of the admin route's answer)."""

    status: Status
    run_id: str
    resumed: bool = False
    partial: bool = False  # stopped at the deadline: the rest is for the next run
    added: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    skipped: int = 0
    stopped: dict[str, str] = field(default_factory=dict)  # source -> why it stopped early
    total: int = 0
    version: str | None = None


class _Deadline(Exception):
    """Internal: the run's time is up."""


class GalleryRefresh:
    """Runs the refresh; the schedule and ``POST /v1/admin/gallery/refresh`` share it."""

    def __init__(
        self,
        gallery: GalleryService,
        objects: ObjectStore,
        store: StateStore,
        sources: Sequence[GallerySource],
        *,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
        fetch_timeout: float = 15.0,
        max_image_bytes: int = DEFAULT_MAX_BYTES,
        lock_seconds: int = 900,
        checkpoint_every: int = 5,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gallery = gallery
        self._objects = objects
        self._store = store
        self.sources = tuple(sources)
        self._resolver = resolver
        self._transport = transport
        self._fetch_timeout = fetch_timeout
        self._max_image_bytes = max_image_bytes
        self._lock_seconds = lock_seconds
        self._checkpoint_every = max(1, checkpoint_every)
        self._clock = clock
        self._monotonic = monotonic

    # -- the run -------------------------------------------------------------------------------

    def run(self, *, deadline_s: float | None = None) -> RefreshReport:
        """One refresh. Returns ``busy`` if another is running; an unexpected error propagates
        (after releasing the lock) and the next run resumes from the last checkpoint."""
        token = uuid.uuid4().hex
        if not self._store.set_once(LOCK_KEY, token, self._lock_seconds):
            log.info("gallery refresh: another run holds the lock")
            return RefreshReport(status="busy", run_id="")
        try:
            ends_at = None if deadline_s is None else self._monotonic() + deadline_s
            return self._run(ends_at)
        finally:
            with contextlib.suppress(StoreError):
                if self._store.get_json(LOCK_KEY) == token:
                    self._store.delete_key(LOCK_KEY)

    def _run(self, ends_at: float | None) -> RefreshReport:
        state = self._load(CHECKPOINT_KEY)
        resumed = bool(state.get("run_id"))
        run = _Run.restore(state) if resumed else _Run(run_id=uuid.uuid4().hex[:12])
        report = RefreshReport(status="unchanged", run_id=run.run_id, resumed=resumed)
        if resumed:
            log.info("gallery refresh: resuming run %s (%d staged)", run.run_id, len(run.staged))

        base = {e.id: e for e in self._gallery.read_entries()}
        known = _Known.of([*base.values(), *run.staged.values()], run.hashes)
        cursors: dict[str, dict[str, str | None]] = self._load(CURSORS_KEY)
        cooldowns: dict[str, float] = self._load(COOLDOWNS_KEY)
        now = self._clock()

        try:
            for source in self.sources:
                retry_at = cooldowns.get(source.name, 0.0)
                if retry_at > now:
                    report.stopped[source.name] = f"rate limited until {int(retry_at)}"
                    continue
                cooldowns.pop(source.name, None)
                reason = self._run_source(source, run, known, cursors, ends_at)
                if reason is not None:
                    report.stopped[source.name] = reason[0]
                    if reason[1] is not None:
                        cooldowns[source.name] = reason[1]
        except _Deadline:
            report.partial = True
            log.info("gallery refresh: deadline reached; the next run goes on")

        report.added = dict(run.added)
        report.duplicates, report.skipped = run.duplicates, run.skipped
        if run.staged:
            merged = {**base, **run.staged}
            report.version = self._gallery.publish(merged.values())
            report.status = "published"
            report.total = len(merged)
        else:
            report.total = len(base)
        self._save(CURSORS_KEY, cursors, CURSORS_TTL)
        self._save(COOLDOWNS_KEY, cooldowns, CURSORS_TTL)
        self._store.delete_key(CHECKPOINT_KEY)
        log.info(
            "gallery refresh %s: %s, added %s, total %d",
            run.run_id,
            report.status,
            report.added,
            report.total,
            extra={"run_id": run.run_id, "added": report.added, "stopped": report.stopped},
        )
        return report

    def _run_source(
        self,
        source: GallerySource,
        run: _Run,
        known: _Known,
        cursors: dict[str, dict[str, str | None]],
        ends_at: float | None,
    ) -> tuple[str, float | None] | None:
        """Every style of one source; returns why it stopped early (and until when), if it did."""
        for style in source.styles:
            progress = run.progress.setdefault(source.name, {}).setdefault(
                style, {"added": 0, "done": False, "cursor": cursors.get(source.name, {}).get(style)}
            )
            if progress["done"]:
                continue
            try:
                self._run_style(source, style, progress=progress, run=run, known=known, ends_at=ends_at)
            except SourceRateLimited as exc:
                retry_at = exc.retry_at or self._clock() + DEFAULT_COOLDOWN_S
                log.warning("gallery refresh: %s is rate limited until %d", source.name, int(retry_at))
                return ("rate limited", retry_at)
            except SourceAuthError as exc:
                log.error(
                    "gallery refresh: %s refused the key: %s",
                    source.name,
                    exc,
                    extra={"alert": "gallery_source"},
                )
                return ("auth", None)
            except SourceError as exc:
                log.warning("gallery refresh: %s failed: %s", source.name, exc)
                return ("unavailable", None)
            finally:
                cursors.setdefault(source.name, {})[style] = progress["cursor"]
            progress["done"] = True
            self._checkpoint(run)
        return None

    def _run_style(
        self,
        source: GallerySource,
        style: str,
        *,
        progress: dict[str, Any],
        run: _Run,
        known: _Known,
        ends_at: float | None,
    ) -> None:
        budget = source.per_run - int(progress["added"])
        if budget <= 0:
            return
        items = source.fetch(style, budget, progress["cursor"])
        try:
            for item in items:
                if ends_at is not None and self._monotonic() >= ends_at:
                    raise _Deadline
                outcome = self._take(source, item, run, known)
                progress["cursor"] = item.cursor
                if outcome == "added":
                    progress["added"] += 1
                    run.unsaved += 1
                    if run.unsaved >= self._checkpoint_every:
                        self._checkpoint(run)
                    if progress["added"] >= source.per_run:
                        return
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()

    # -- one item ------------------------------------------------------------------------------

    def _take(self, source: GallerySource, item: SourceItem, run: _Run, known: _Known) -> Outcome:
        ident = entry_id(source.name, item.source_id)
        if ident in known.ids:
            return "known"
        if item.style not in STYLES_BY_ID:
            return self._skip(run, source, item, "unknown style")
        if item.external_urls is not None:
            urls = {s: item.external_urls.get(s, "") for s in ("128", "256", "512")}
            if not all(u.startswith("https://") for u in urls.values()):
                return self._skip(run, source, item, "incomplete external URLs")
            if urls["512"] in known.urls:
                run.duplicates += 1
                return "duplicate"
            entry = self._entry(ident, item, {}, urls)
        elif item.stored_keys is not None:
            stored = {s: item.stored_keys.get(s, "") for s in ("128", "256", "512")}
            if not all("/" in key for key in stored.values()):
                return self._skip(run, source, item, "incomplete stored renditions")
            targets = {s: _gallery_key(key) for s, key in stored.items()}
            if targets["512"] in known.keys:
                run.duplicates += 1
                return "duplicate"
            if not self._copy_renditions(stored, targets):
                return self._skip(run, source, item, "stored image missing")
            entry = self._entry(ident, item, targets, None)
        else:
            picture: Any
            if item.image_url is not None:
                try:
                    picture = fetch_image(
                        item.image_url,
                        allowed_hosts=source.allowed_hosts,
                        max_bytes=self._max_image_bytes,
                        timeout=self._fetch_timeout,
                        transport=self._transport,
                        resolver=self._resolver,
                    )
                except FetchRefused as exc:
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
            if keys["512"] in known.keys:
                run.duplicates += 1
                return "duplicate"
            entry = self._entry(ident, item, keys, None)
        known.add(entry)
        run.staged[entry.id] = entry
        run.added[source.name] = run.added.get(source.name, 0) + 1
        return "added"

    def _store_renditions(self, picture: Any) -> dict[str, str] | None:
        """Square, 128/256/512 WebP under ``gallery/`` (content-addressed); None if rejected."""
        from chalicelib.images import ImageRejected, process_image

        try:
            renditions = process_image(picture, GALLERY_SIZES)
        except ImageRejected as exc:
            log.warning("gallery refresh: image rejected (%s)", exc.reason)
            return None
        keys: dict[str, str] = {}
        for rendition in renditions:
            # gallery/ never expires in the R2 lifecycle, unlike img/ of unchosen generations.
            key = _gallery_key(rendition.key)
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
    def _skip(run: _Run, source: GallerySource, item: SourceItem, why: str) -> Outcome:
        run.skipped += 1
        log.warning(
            "gallery refresh: skipped %s item %s (%s)",
            source.name,
            item.source_id,
            why,
            extra={"source": source.name, "item_id": item.source_id},
        )
        return "skipped"

    # -- state ---------------------------------------------------------------------------------

    def _checkpoint(self, run: _Run) -> None:
        self._save(CHECKPOINT_KEY, run.dump(), CHECKPOINT_TTL)
        run.unsaved = 0

    def _load(self, key: str) -> dict[str, Any]:
        raw = self._store.get_json(key)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            log.warning("gallery refresh: %s is not JSON; ignored", key)
            return {}
        return value if isinstance(value, dict) else {}

    def _save(self, key: str, value: Mapping[str, Any], ttl: int) -> None:
        self._store.set_json(key, json.dumps(value, separators=(",", ":")), ttl)


@dataclass
class _Run:
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
    def restore(cls, state: Mapping[str, Any]) -> _Run:
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
class _Known:
    """What is in the gallery already (or staged): ids, picture keys, hotlinked URLs, hashes."""

    ids: set[str]
    keys: set[str]
    urls: set[str]
    hashes: dict[str, str]

    @classmethod
    def of(cls, entries: Iterable[GalleryEntry], hashes: Mapping[str, str]) -> _Known:
        known = cls(set(), set(), set(), dict(hashes))
        for entry in entries:
            known.add(entry)
        return known

    def add(self, entry: GalleryEntry) -> None:
        self.ids.add(entry.id)
        if entry.image_keys.get("512"):
            self.keys.add(entry.image_keys["512"])
        if entry.external_urls and entry.external_urls.get("512"):
            self.urls.add(entry.external_urls["512"])
