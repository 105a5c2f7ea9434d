"""Wires the application once per container and keeps it for the process; tests pass their own
adapters in (``build_container``) and install the result with :func:`set_container`.

Nothing heavy is imported here: ``import app`` (the Lambda cold start) loads only this module's
accessors; the wiring (every use case and adapter module) is imported when the first request
asks for the container.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.adapters.system_clock import SystemClock
    from chalicelib.bootstrap.adapters import build_objects, build_provider, build_store
    from chalicelib.bootstrap.container import Container
    from chalicelib.bootstrap.local import exit_on_sigterm, seed_gallery, start_local, start_realtime
    from chalicelib.bootstrap.wiring import build_container
    from chalicelib.config import Settings

__all__ = [
    "Container",
    "SystemClock",
    "build_container",
    "build_objects",
    "build_provider",
    "build_store",
    "collect_rarely_while_starting",
    "current_settings",
    "exit_on_sigterm",
    "get_container",
    "seed_gallery",
    "set_container",
    "start_local",
    "start_realtime",
    "warm_start_if_asked",
]

# Where each re-exported name lives, imported on first use (PEP 562).
_LAZY = {
    "Container": "chalicelib.bootstrap.container",
    "SystemClock": "chalicelib.adapters.system_clock",
    "build_container": "chalicelib.bootstrap.wiring",
    "build_objects": "chalicelib.bootstrap.adapters",
    "build_provider": "chalicelib.bootstrap.adapters",
    "build_store": "chalicelib.bootstrap.adapters",
    "exit_on_sigterm": "chalicelib.bootstrap.local",
    "seed_gallery": "chalicelib.bootstrap.local",
    "start_local": "chalicelib.bootstrap.local",
    "start_realtime": "chalicelib.bootstrap.local",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


_container: Container | None = None
_lock = threading.Lock()
_DEFAULT_GC_THRESHOLD = gc.get_threshold()
_STARTING_GC_THRESHOLD = 100_000  # young objects between collections while the container starts
_started = False


def collect_rarely_while_starting() -> None:
    """Until the first container is built: the start of a process allocates tens of thousands of
    objects that live as long as it does (modules, classes, the wiring), and the collector would
    scan them again and again (about a hundred young collections per cold start)."""
    gc.set_threshold(_STARTING_GC_THRESHOLD, *_DEFAULT_GC_THRESHOLD[1:])


def _done_starting() -> None:
    """Once per process: what start-up made is frozen out of every later collection (a warm
    request's collections then scan only what requests made), and the collector is as usual."""
    global _started  # noqa: PLW0603 - once per process
    if not _started:
        _started = True
        gc.freeze()
        gc.set_threshold(*_DEFAULT_GC_THRESHOLD)


def get_container() -> Container:
    """The container of this process, built on first use (so import stays cheap)."""
    global _container  # noqa: PLW0603 - one container per Lambda container, by design
    if _container is None:
        with _lock:
            if _container is None:
                from chalicelib.bootstrap.wiring import build_container

                container = build_container()
                if container.settings.stage == "local":
                    from chalicelib.bootstrap.local import (
                        start_background_reaper,
                        start_background_retention,
                        start_local,
                        start_realtime,
                    )

                    recovered = start_local(container)
                    # No EventBridge schedule runs locally.
                    start_background_reaper(container.generation.reaper, recovered=recovered)
                    # No R2 lifecycle rule either: the local object store expires img/ itself.
                    start_background_retention(container)
                    # No API Gateway either: the embedded WebSocket server plays its part.
                    start_realtime(container)
                _container = container
                _done_starting()
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
            logging.getLogger(__name__).exception(
                "warm start failed: the first request builds the container instead"
            )

    threading.Thread(target=build, name="avatarflow-warm-start", daemon=True).start()


def current_settings() -> Settings:
    """The settings of the installed container, else of the environment: never builds anything
    (middleware that runs after a failed build still needs them)."""
    container = _container
    if container is not None:
        return container.settings
    from chalicelib.config import get_settings

    return get_settings()


def set_container(container: Container | None) -> None:
    """Install a container (tests) or drop the current one."""
    global _container  # noqa: PLW0603
    _container = container
