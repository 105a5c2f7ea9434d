"""The in-process message bus: each domain event to the handlers registered for its type.

Handlers are installed once, from the table in ``bootstrap/handlers.py``. A handler that fails is logged and the others still
run: a reaction (a callback, a metric, an alert) never undoes the work that caused it. Handlers
run in the publisher's thread; a slow reaction hands itself to a background worker or a lane.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib.domain.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class MessageBus:
    """Delivers events to handlers by event type (exact type, in registration order)."""

    def __init__(self, handlers: Mapping[type[Event], Sequence[Handler]] | None = None) -> None:
        self._handlers: dict[type[Event], list[Handler]] = {
            kind: list(found) for kind, found in (handlers or {}).items()
        }

    def register(self, handlers: Mapping[type[Event], Sequence[Handler]]) -> None:
        """Add a table of handlers (``bootstrap``, once every handler exists: the publishers are
        built with the bus, and some handlers are among them)."""
        for kind, found in handlers.items():
            self._handlers.setdefault(kind, []).extend(found)

    def subscribe(self, kind: type[Event], handler: Handler) -> None:
        """Add a handler (tests that listen)."""
        self._handlers.setdefault(kind, []).append(handler)

    def handlers(self, kind: type[Event]) -> tuple[Handler, ...]:
        """The handlers of ``kind``, in the order they run."""
        return tuple(self._handlers.get(kind, ()))

    def publish(self, *events: Event) -> None:
        for event in events:
            for handler in self._handlers.get(type(event), ()):
                try:
                    handler(event)
                except Exception:
                    log.exception(
                        "event handler failed",
                        extra={"event": type(event).__name__, "handler": _name(handler)},
                    )


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", type(handler).__name__)
