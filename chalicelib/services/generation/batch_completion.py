"""The end of an enterprise batch: when its last item ends, ``BatchFinished`` is published once.

A batch's end is never missed, however its last item ends:

- as a job of its own, or as a follower of a job of the same batch: ``GenerationFinished`` of a
  batch item (its ``batch``);
- as a follower of a job outside the batch (another request's): that job's ``GenerationFinished``
  names the followers' batches (``follower_batches``, from the finish script that ended them), and
  ``BatchItemsEnded`` does where no such event is published (the reaper ended the followers, or
  the job's caller erased their data);
- before the batch was even recorded (every item a cache hit or a replay, or joined a job that
  ended while the batch was admitted): ``BatchRecorded`` with no new job, checked at once (a batch
  with new jobs is checked as each of them ends: they are queued only once it is recorded).

Each check reads the batch document and its items' statuses (two store calls, never on the single
request's hot path: an ordinary job costs nothing here), and a once-only marker makes sure two
items ending together publish one event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from chalicelib.domain.events import BatchFinished, BatchItemsEnded, BatchRecorded, GenerationFinished
from chalicelib.ports import GenerationStore, KeyValueStore, StoreError
from chalicelib.services.generation.batches import BATCH_TTL_S, STATUSES, valid_batch_id
from chalicelib.services.messagebus import MessageBus

log = logging.getLogger(__name__)


class BatchCompletion:
    """Publishes :class:`BatchFinished` when the last generation of a batch has ended."""

    def __init__(self, *, kv: KeyValueStore, generations: GenerationStore, bus: MessageBus) -> None:
        self._kv = kv
        self._generations = generations
        self._bus = bus

    def on_finished(self, event: GenerationFinished) -> None:
        own = (event.generation.batch,) if event.generation.batch else ()
        self._check_all((*own, *event.follower_batches))

    def on_items_ended(self, event: BatchItemsEnded) -> None:
        self._check_all(event.batch_ids)

    def on_recorded(self, event: BatchRecorded) -> None:
        if event.new_jobs == 0:  # its items' ends may all have come before it was recorded
            self._check_all((event.batch_id,))

    def _check_all(self, batch_ids: Iterable[str]) -> None:
        for batch_id in dict.fromkeys(batch_ids):
            if not valid_batch_id(batch_id):
                continue
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
