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
- **atomic for readers**: the new items are published once, at the end: the shards of the
  styles they belong to (the others are neither read nor rewritten), then the gallery's index in
  one put; a listing during a refresh sees the old gallery or the new one, never half of it.

Only one refresh runs at a time (a lock in the state store, with a TTL in case a runner dies).
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib.ports import (
    Clock,
    GallerySource,
    ImageFetcher,
    ImagePipeline,
    KeyValueStore,
    ObjectStore,
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    StoreError,
)
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.gallery.intake import GalleryIntake, KnownItems, RefreshRun, entry_id

__all__ = ["CHECKPOINT_KEY", "LOCK_KEY", "GalleryRefresh", "RefreshReport", "entry_id"]

log = logging.getLogger(__name__)

LOCK_KEY = "gallery:refresh:lock"
CHECKPOINT_KEY = "gallery:refresh:checkpoint"
CURSORS_KEY = "gallery:refresh:cursors"
COOLDOWNS_KEY = "gallery:refresh:cooldowns"
CHECKPOINT_TTL = 7 * 24 * 3600
CURSORS_TTL = 90 * 24 * 3600
DEFAULT_COOLDOWN_S = 3600.0

Status = Literal["published", "unchanged", "busy"]


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
        *,
        gallery: GalleryService,
        objects: ObjectStore,
        kv: KeyValueStore,
        sources: Sequence[GallerySource],
        fetcher: ImageFetcher,
        pipeline: ImagePipeline,
        clock: Clock,
        lock_seconds: int = 900,
        checkpoint_every: int = 5,
    ) -> None:
        self._gallery = gallery
        self._kv = kv
        self.sources = tuple(sources)
        self._intake = GalleryIntake(objects, fetcher, pipeline)
        self._clock = clock
        self._lock_seconds = lock_seconds
        self._checkpoint_every = max(1, checkpoint_every)

    # -- the run -------------------------------------------------------------------------------

    def run(self, *, deadline_s: float | None = None) -> RefreshReport:
        """One refresh. Returns ``busy`` if another is running; an unexpected error propagates
        (after releasing the lock) and the next run resumes from the last checkpoint."""
        token = uuid.uuid4().hex
        if not self._kv.set_once(LOCK_KEY, token, self._lock_seconds):
            log.info("gallery refresh: another run holds the lock")
            return RefreshReport(status="busy", run_id="")
        try:
            ends_at = None if deadline_s is None else self._clock.monotonic() + deadline_s
            return self._run(ends_at)
        finally:
            with contextlib.suppress(StoreError):
                if self._kv.get(LOCK_KEY) == token:
                    self._kv.delete(LOCK_KEY)

    def _run(self, ends_at: float | None) -> RefreshReport:
        state = self._load(CHECKPOINT_KEY)
        resumed = bool(state.get("run_id"))
        run = RefreshRun.restore(state) if resumed else RefreshRun(run_id=uuid.uuid4().hex[:12])
        report = RefreshReport(status="unchanged", run_id=run.run_id, resumed=resumed)
        if resumed:
            log.info("gallery refresh: resuming run %s (%d staged)", run.run_id, len(run.staged))

        # The stored gallery's ids and pictures, as fingerprints: no shard is read until the
        # publish, and then only the shards of the styles that get new items.
        published = self._gallery.published()
        known = KnownItems.of(run.staged.values(), run.hashes, published)
        cursors: dict[str, dict[str, str | None]] = self._load(CURSORS_KEY)
        cooldowns: dict[str, float] = self._load(COOLDOWNS_KEY)
        now = self._clock.time()

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
        if run.staged or published.legacy:  # an old single manifest is rewritten as shards
            report.version = self._gallery.add(run.staged.values())
            report.status = "published" if run.staged else "unchanged"
            report.total = self._gallery.count()
        else:
            report.total = published.total
        self._save(CURSORS_KEY, cursors, CURSORS_TTL)
        self._save(COOLDOWNS_KEY, cooldowns, CURSORS_TTL)
        self._kv.delete(CHECKPOINT_KEY)
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
        run: RefreshRun,
        known: KnownItems,
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
                retry_at = exc.retry_at or self._clock.time() + DEFAULT_COOLDOWN_S
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
        run: RefreshRun,
        known: KnownItems,
        ends_at: float | None,
    ) -> None:
        budget = source.per_run - int(progress["added"])
        if budget <= 0:
            return
        items = source.fetch(style, budget, progress["cursor"])
        try:
            for item in items:
                if ends_at is not None and self._clock.monotonic() >= ends_at:
                    raise _Deadline
                outcome = self._intake.take(source, item, run, known)
                progress["cursor"] = item.cursor
                if outcome == "added":
                    progress["added"] += 1
                    run.unsaved += 1
                    if run.unsaved >= self._checkpoint_every:
                        self._checkpoint(run)
                    if progress["added"] >= source.per_run:
                        return
        finally:
            if isinstance(items, Generator):  # stop a source's paging at once (its HTTP calls too)
                items.close()

    # -- state ---------------------------------------------------------------------------------

    def _checkpoint(self, run: RefreshRun) -> None:
        self._save(CHECKPOINT_KEY, run.dump(), CHECKPOINT_TTL)
        run.unsaved = 0

    def _load(self, key: str) -> dict[str, Any]:
        raw = self._kv.get(key)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            log.warning("gallery refresh: %s is not JSON; ignored", key)
            return {}
        return value if isinstance(value, dict) else {}

    def _save(self, key: str, value: Mapping[str, Any], ttl: int) -> None:
        self._kv.set(key, json.dumps(value, separators=(",", ":")), ttl)
