"""The real-time push: handlers of the domain events that change what a watcher sees.

In the table of ``bootstrap/handlers.py``; no use case knows of them. A phase costs the job one
store round trip, the one that reads who watches it (``ws_progress.lua`` also records the phase,
so that polling clients see it too); the end costs none (the finish script answers who watches,
``GenerationFinished.watchers``); the message is rendered from the event itself, never read
back. A connection that is gone (API Gateway's 410) is forgotten; any other failed push is logged
and skipped (the next change is pushed again, and polling keeps working).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from pydantic import BaseModel

from chalicelib.domain.events import BatchFinished, GenerationFinished, GenerationProgressed
from chalicelib.domain.generation import Generation
from chalicelib.ports import (
    ConnectionGone,
    GenerationStore,
    PushChannel,
    PushError,
    StoreError,
    WatchRegistry,
)
from chalicelib.ports.watches import Watcher
from chalicelib.schemas.models import BatchStatus
from chalicelib.schemas.realtime import BatchMessage, GenerationMessage
from chalicelib.services.generation.views import GenerationView

log = logging.getLogger(__name__)


class PushUpdates:
    """Pushes each change of a watched generation (and the end of a watched batch)."""

    def __init__(
        self,
        *,
        watches: WatchRegistry,
        push: PushChannel,
        view: GenerationView,
        generations: GenerationStore,
    ) -> None:
        self._watches = watches
        self._push = push
        self._view = view
        self._generations = generations

    def on_progressed(self, event: GenerationProgressed) -> None:
        try:
            watchers = self._watches.progressed(event.generation, event.progress)
        except StoreError as exc:
            log.warning("progress not recorded or pushed: %s", exc, extra={"job_id": event.generation.id})
            return
        if watchers:
            self._deliver(watchers, dataclasses.replace(event.generation, progress=event.progress))

    def on_finished(self, event: GenerationFinished) -> None:
        generation = event.generation
        watchers = event.watchers  # the finish script's answer: usually no call at all
        if watchers is None:
            topics = [generation.id, *([generation.batch] if generation.batch else [])]
            try:
                watchers = tuple(self._watches.watchers(topics))
            except StoreError as exc:
                log.warning("end of a job not pushed: %s", exc, extra={"job_id": generation.id})
                return
        if watchers:
            self._deliver(watchers, generation)

    def on_batch_finished(self, event: BatchFinished) -> None:
        try:
            watchers = [w for w in self._watches.watchers([event.batch_id]) if w.watched == event.batch_id]
        except StoreError as exc:
            log.warning("end of a batch not pushed: %s", exc, extra={"batch_id": event.batch_id})
            return
        if not watchers:
            return
        # Items that joined another item's job (identical requests) ended with it but had no event
        # of their own: their final state goes out now, before the batch's.
        for generation_id in event.generation_ids:
            try:
                item = self._generations.get(generation_id)
            except StoreError:
                item = None
            if item is not None and item.leader:
                text = _json(GenerationMessage(generation=self._view.render(item)))
                for watcher in watchers:
                    self._send(watcher.connection_id, text)
        batch = BatchStatus(
            id=event.batch_id, counts=dict(event.counts), generation_ids=list(event.generation_ids)
        )
        text = BatchMessage(batch=batch).model_dump_json()
        for watcher in watchers:
            self._send(watcher.connection_id, text)

    # -- delivery ------------------------------------------------------------------------------
    def _deliver(self, watchers: Iterable[Watcher], generation: Generation) -> None:
        own = _json(GenerationMessage(generation=self._view.render(generation)))
        followers: dict[str, str | None] = {}
        for watcher in watchers:
            if watcher.watched in (generation.id, generation.batch):
                text: str | None = own
            else:
                if watcher.watched not in followers:
                    followers[watcher.watched] = self._as_follower(watcher.watched, generation)
                text = followers[watcher.watched]
            if text is not None:
                self._send(watcher.connection_id, text)

    def _as_follower(self, follower_id: str, leader: Generation) -> str | None:
        """A request that joined ``leader`` is shown as itself, moving as the leader moves (a read
        of its own record: the only push that costs one, and only for followers' watchers)."""
        try:
            follower = self._generations.get(follower_id)
        except StoreError:
            return None
        if follower is None:
            return None
        if follower.is_open:
            follower = (
                dataclasses.replace(
                    follower, status=leader.status, attempts=leader.attempts, progress=leader.progress
                )
                if leader.is_open
                else follower
            )
        return _json(GenerationMessage(generation=self._view.render(follower)))

    def _send(self, connection_id: str, text: str) -> None:
        send_or_forget(self._push, self._watches, connection_id, text)


def send_or_forget(push: PushChannel, watches: WatchRegistry, connection_id: str, text: str) -> None:
    """Send ``text``; a connection that is gone (API Gateway's 410) is forgotten, any other failed
    send is logged and skipped (the next change goes out again, and polling keeps working)."""
    try:
        push.send(connection_id, text)
    except ConnectionGone:
        try:
            watches.forget(connection_id)
        except StoreError:
            log.info("a gone connection could not be forgotten now (its TTL will)")
    except PushError as exc:
        log.warning("push not delivered: %s", exc)


def _json(message: BaseModel) -> str:
    return message.model_dump_json()
