"""Wires the application once per container (``wiring.build_container``) and keeps it for the
process; tests pass their own adapters in and install the container with :func:`set_container`."""

from __future__ import annotations

import logging
import os
import threading
import time

from chalicelib.bootstrap.adapters import build_objects, build_pipeline, build_provider, build_store
from chalicelib.bootstrap.container import Container, SystemClock
from chalicelib.bootstrap.wiring import build_container
from chalicelib.config import Settings, get_settings
from chalicelib.ports import ObjectStore, StoreError
from chalicelib.services.gallery import GalleryService
from chalicelib.services.reap import Reaper

__all__ = [
    "Container",
    "SystemClock",
    "build_container",
    "build_objects",
    "build_provider",
    "build_store",
    "current_settings",
    "get_container",
    "seed_gallery",
    "set_container",
    "start_local",
    "start_realtime",
    "warm_start_if_asked",
]

log = logging.getLogger(__name__)


def seed_gallery(gallery: GalleryService, objects: ObjectStore, per_style: int) -> int:
    """Fill an empty gallery with procedural avatars (the local stage's first start, tests)."""
    from chalicelib.adapters.sources.procedural import procedural_entries

    return gallery.ensure_seeded(lambda: procedural_entries(objects, build_pipeline(), per_style))


def start_local(container: Container) -> bool:
    """What a local process does once: seed an empty gallery and pick up jobs left open.
    False if the store could not be reached for the jobs (the background reaper tries again):
    the process still starts, and serves the gallery meanwhile."""
    added = seed_gallery(container.gallery, container.objects, container.settings.gallery_seed_per_style)
    if added:
        log.info("seeded the gallery with %d procedural avatars", added)
    return _recover(container.reaper)


def start_realtime(container: Container) -> int | None:
    """The local stage's WebSocket server, listening (its port), where the push channel is the
    embedded one; None where it is API Gateway's, or the port is taken (polling still works)."""
    from chalicelib.adapters.push.local_server import LocalWebSocketServer

    push = container.push
    if not isinstance(push, LocalWebSocketServer):
        return None
    try:
        return push.start(container.realtime)
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
                    recovered = start_local(container)
                    # No EventBridge schedule runs locally.
                    start_background_reaper(container.reaper, recovered=recovered)
                    # No API Gateway either: the embedded WebSocket server plays its part.
                    start_realtime(container)
                _container = container
    return _container


def warm_start_if_asked() -> None:
    """``make run`` sets ``AVATARFLOW_WARM_START=1``: the container (and, in the local stage, its
    WebSocket server and reaper) is built at once in the background rather than on the first
    request, so ``ws://localhost:8001`` answers before any HTTP call. Off by default: a Lambda's
    import stays cheap and builds nothing."""
    if os.environ.get("AVATARFLOW_WARM_START") != "1":
        return

    def build() -> None:
        try:
            get_container()
        except Exception:
            log.exception("warm start failed: the first request builds the container instead")

    threading.Thread(target=build, name="avatarflow-warm-start", daemon=True).start()


def current_settings() -> Settings:
    """The settings of the installed container, else of the environment: never builds anything
    (middleware that runs after a failed build still needs them)."""
    container = _container
    return container.settings if container is not None else get_settings()


def set_container(container: Container | None) -> None:
    """Install a container (tests) or drop the current one."""
    global _container  # noqa: PLW0603
    _container = container
