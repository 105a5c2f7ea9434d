"""The local stage's own runtime: a seeded gallery, jobs picked up again after a restart, the reaper
on a thread (no EventBridge schedule runs locally), and SIGTERM stopping the embedded Redis."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from chalicelib.bootstrap.adapters import build_pipeline
from chalicelib.bootstrap.container import Container
from chalicelib.ports import ObjectStore, StoreError
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.generation.reap import Reaper

log = logging.getLogger("chalicelib.bootstrap")


def seed_gallery(gallery: GalleryService, objects: ObjectStore, per_style: int) -> int:
    """Fill an empty gallery with procedural avatars (the local stage's first start, tests)."""
    from chalicelib.adapters.sources.procedural import procedural_entries

    return gallery.ensure_seeded(lambda: procedural_entries(objects, build_pipeline(), per_style))


def start_local(container: Container) -> bool:
    """What a local process does once: seed an empty gallery and pick up jobs left open.
    False if the store could not be reached for the jobs (the background reaper tries again):
    the process still starts, and serves the gallery meanwhile."""
    added = seed_gallery(
        container.gallery.catalog, container.ports.objects, container.settings.gallery_seed_per_style
    )
    if added:
        log.info("seeded the gallery with %d procedural avatars", added)
    return _recover(container.generation.reaper)


def start_realtime(container: Container) -> int | None:
    """The local stage's WebSocket server, listening (its port), where the push channel is the
    embedded one; None where it is API Gateway's, or the port is taken (polling still works)."""
    from chalicelib.adapters.push.local_server import LocalWebSocketServer

    push = container.ports.push
    if not isinstance(push, LocalWebSocketServer):
        return None
    try:
        return push.start(container.realtime.sessions)
    except OSError as exc:
        log.warning(
            "the WebSocket server cannot listen on %s:%d (%s): no push, polling works",
            push.host,
            push.port,
            exc,
        )
        return None


def _recover(reaper: Reaper) -> bool:
    try:
        recovered = reaper.recover_open_jobs()
    except StoreError:
        log.warning("state store unreachable: open jobs will be picked up again once it answers")
        return False
    if recovered:
        log.info("re-queued %d open jobs after a restart", recovered)
    return True


def start_background_reaper(
    reaper: Reaper, interval_s: float = 60.0, *, recovered: bool = True
) -> threading.Thread:
    """The embedded stack's reaper: the same pass as the scheduled one, from a daemon thread (and
    the restart recovery, until it has run once)."""

    def loop() -> None:
        done = recovered
        while True:
            time.sleep(interval_s)
            try:
                done = done or _recover(reaper)
                reaper.reap()
            except Exception:
                log.exception("background reaper pass failed")

    thread = threading.Thread(target=loop, name="avatarflow-reaper", daemon=True)
    thread.start()
    return thread


def start_background_retention(container: Container, interval_s: float = 600.0) -> threading.Thread | None:
    """The local object store's stand-in for R2's lifecycle rules: unchosen generations' images
    older than the retention, and uploaded photos older than the photo retention (24 hours), are
    deleted at start and then every ``interval_s`` (docs/privacy.md). None where the object store
    is R2 (its lifecycle rules do it)."""
    from chalicelib.adapters.storage.local import LocalObjectStore
    from chalicelib.services.privacy.retention import EnforceRetention

    objects = container.ports.objects
    if not isinstance(objects, LocalObjectStore):
        return None
    retention = EnforceRetention(
        objects, retention_s=container.settings.retention_seconds, clock=container.ports.clock
    )

    def loop() -> None:
        while True:
            try:
                retention.run()
                container.photos.privacy.expire(objects)
            except Exception:
                log.exception("retention pass failed")
            time.sleep(interval_s)

    thread = threading.Thread(target=loop, name="avatarflow-retention", daemon=True)
    thread.start()
    return thread


def exit_on_sigterm() -> bool:
    """Make SIGTERM (what process managers send) end this process the way Ctrl-C does: through a
    clean interpreter exit, whose exit hooks shut the embedded Redis down. Python's default for
    SIGTERM is to die at once, leaving the redis-server daemon running with nobody to stop it.

    Only the main thread may install a signal handler: elsewhere (``chalice local`` with
    autoreload imports the app in a thread) nothing changes and False is returned.
    """
    if threading.current_thread() is not threading.main_thread():
        log.debug("SIGTERM handler not installed: not the main thread")
        return False
    signal.signal(signal.SIGTERM, _exit)
    return True


def _exit(signum: int, frame: FrameType | None) -> None:
    # Status 0: a stop asked for and carried out is a success to a process manager (a 143 is not,
    # to supervisord or systemd, without extra configuration).
    log.info("SIGTERM: stopping")
    raise SystemExit(0)
