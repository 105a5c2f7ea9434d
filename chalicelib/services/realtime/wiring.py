"""The real-time use cases from their ports: the push of what a watcher sees, the WebSocket sessions."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.ports import PushChannel, StateStore
from chalicelib.services.access.identity import Authenticator
from chalicelib.services.generation.batches import BatchService
from chalicelib.services.generation.views import GenerationView
from chalicelib.services.realtime.push import PushUpdates
from chalicelib.services.realtime.sessions import RealtimeSessions


@dataclass(frozen=True)
class RealtimeUseCases:
    """``updates`` handles the events a watcher sees (bootstrap/handlers.py); ``sessions`` serves
    the WebSocket routes."""

    updates: PushUpdates
    sessions: RealtimeSessions


def wire_realtime(
    store: StateStore,
    push: PushChannel,
    *,
    view: GenerationView,
    authenticator: Authenticator,
    batches: BatchService,
) -> RealtimeUseCases:
    """Both over the same watch registry and push channel."""
    return RealtimeUseCases(
        updates=PushUpdates(watches=store.watches, push=push, view=view, generations=store.generations),
        sessions=RealtimeSessions(
            authenticator=authenticator,
            watches=store.watches,
            push=push,
            generations=store.generations,
            batches=batches,
            view=view,
        ),
    )
