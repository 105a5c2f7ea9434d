"""The end of an enterprise batch: when its last item ends, ``BatchFinished`` is published once.

A handler of ``GenerationFinished`` for batch items only (an ordinary job costs nothing here):
the batch document and its items' statuses are read (two store calls, on the batch lane), and a
once-only marker makes sure two items ending together publish one event.
"""

from __future__ import annotations

import json
import logging

from chalicelib.domain.events import BatchFinished, GenerationFinished
from chalicelib.messagebus import MessageBus
from chalicelib.ports import GenerationStore, KeyValueStore, StoreError
from chalicelib.services.batches import BATCH_TTL_S, STATUSES, valid_batch_id

log = logging.getLogger(__name__)


class BatchCompletion:
    """Publishes :class:`BatchFinished` when the last generation of a batch has ended."""

    def __init__(self, *, kv: KeyValueStore, generations: GenerationStore, bus: MessageBus) -> None:
        self._kv = kv
        self._generations = generations
        self._bus = bus

    def on_finished(self, event: GenerationFinished) -> None:
        batch_id = event.generation.batch
        if not batch_id or not valid_batch_id(batch_id):
            return
        try:
            self._check(batch_id)
        except StoreError as exc:
            log.warning("batch completion not checked: %s", exc, extra={"batch_id": batch_id})

    def _check(self, batch_id: str) -> None:
        raw = self._kv.get(f"batch:{batch_id}")
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return
        ids = tuple(str(i) for i in doc.get("generation_ids", []))
        counts = dict.fromkeys(STATUSES, 0)
        for status in self._generations.statuses(list(ids)):
            if status in ("queued", "running"):
                return  # still open
            if status is not None:  # None: an item erased since (DELETE /v1/me)
                counts[status] = counts.get(status, 0) + 1
        if not self._kv.set_once(f"batch-done:{batch_id}", "1", BATCH_TTL_S):
            return
        self._bus.publish(BatchFinished(batch_id, str(doc.get("owner", "")), ids, counts))
