"""Wires the application once per container (``wiring.build_container``) and keeps it for the
process; tests pass their own adapters in and install the container with :func:`set_container`."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from chalicelib.bootstrap.adapters import build_objects, build_pipeline, build_provider, build_store
from chalicelib.bootstrap.container import Container, SystemClock
from chalicelib.bootstrap.wiring import build_container
from chalicelib.ports import ObjectStore
from chalicelib.services.gallery import GalleryService
from chalicelib.services.reap import Reaper

__all__ = [
    "Container",
    "SystemClock",
    "build_container",
    "build_objects",
    "build_provider",
    "build_store",
    "exit_on_sigterm",
    "get_container",
    "seed_gallery",
    "set_container",
    "start_local",
]

log = logging.getLogger(__name__)


def seed_gallery(gallery: GalleryService, objects: ObjectStore, per_style: int) -> int:
    """Fill an empty gallery with procedural avatars (the local stage's first start, tests)."""
    from chalicelib.adapters.sources.procedural import procedural_entries

    return gallery.ensure_seeded(lambda: procedural_entries(objects, build_pipeline(), per_style))


def start_local(container: Container) -> None:
    """What a local process does once: seed an empty gallery and pick up jobs left open."""
    added = seed_gallery(container.gallery, container.objects, container.settings.gallery_seed_per_style)
    if added:
        log.info("seeded the gallery with %d procedural avatars", added)
    recovered = container.reaper.recover_open_jobs()
    if recovered:
        log.info("re-queued %d open jobs after a restart", recovered)


def start_background_reaper(reaper: Reaper, interval_s: float = 60.0) -> threading.Thread:
    """The embedded stack's reaper: the same pass as the scheduled one, from a daemon thread."""

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            try:
                reaper.reap()
            except Exception:
                log.exception("background reaper pass failed")

    thread = threading.Thread(target=loop, name="avatarflow-reaper", daemon=True)
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


_container: Container | None = None
_lock = threading.Lock()


def get_container() -> Container:
    """The container of this process, built on first use (so import stays cheap)."""
    global _container  # noqa: PLW0603 - one container per Lambda container, by design
    if _container is None:
        with _lock:
            if _container is None:
                container = build_container()
                if container.settings.stage == "local":
                    start_local(container)
                    start_background_reaper(container.reaper)  # no EventBridge schedule runs locally
                _container = container
    return _container


def set_container(container: Container | None) -> None:
    """Install a container (tests) or drop the current one."""
    global _container  # noqa: PLW0603
    _container = container
