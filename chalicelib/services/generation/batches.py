"""Enterprise batches: up to 100 generations in one request, on the batch lane.

Each item goes through the same admission as ``POST /v1/generations`` (one admit call per item:
per-key quota windows, idempotency of identical requests, cache, in-flight joins, budget), so an
item is charged exactly like a single request. The batch counts once towards the general request
rate (its first item does; the others use a counter of the batch's own). A batch is all or nothing
at admission: the quota is checked for every item first, and if an item is refused all the same
(a race), the items admitted before it are failed and refunded and the whole batch is refused.

The batch itself is one small JSON document in the store (owner, ids, callback URL); its counts
are read in one call (``statuses.lua``). Each item's callback (``callback_url`` of the item, else of
the batch) is delivered by ``services.callbacks`` with the API key's webhook secret.
"""

from __future__ import annotations

import json
import logging
import secrets

from chalicelib.domain.errors import DomainError, Forbidden, NotFound, QuotaExceeded
from chalicelib.domain.events import BatchRecorded
from chalicelib.domain.generation import Failure, Generation, iso
from chalicelib.domain.identity import Identity
from chalicelib.ports import Clock, GenerationStore, JobQueue, KeyValueStore
from chalicelib.schemas.models import BatchAccepted, BatchRequest, BatchStatus, GenerationRequest
from chalicelib.services.generation.admission import Admission
from chalicelib.services.generation.finish import FinishGeneration
from chalicelib.services.generation.read import ReadGenerations
from chalicelib.services.messagebus import MessageBus

log = logging.getLogger(__name__)

BATCH_LANE = "batch"
BATCH_TTL_S = 30 * 24 * 3600  # as long as the generations' own records
STATUSES = ("queued", "running", "succeeded", "failed")
NOT_QUEUED = Failure("internal", "The job could not be queued; it was not charged.")


def valid_batch_id(value: str) -> bool:
    return value.startswith("bat_") and len(value) <= 64


class BatchService:
    """``POST /v1/batches`` and ``GET /v1/batches/{id}`` (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        kv: KeyValueStore,
        queue: JobQueue,
        admission: Admission,
        finish: FinishGeneration,
        reads: ReadGenerations,
        clock: Clock,
        bus: MessageBus,
    ) -> None:
        self._bus = bus
        self._generations = generations
        self._kv = kv
        self._queue = queue
        self._admission = admission
        self._finish = finish
        self._reads = reads
        self._clock = clock

    def create(self, identity: Identity, req: BatchRequest) -> BatchAccepted:
        """Admit every item (charged per item), queue the new ones on the batch lane."""
        if identity.kind != "api_key":
            raise Forbidden("Batches are available to enterprise API clients only.")
        items: list[GenerationRequest] = [
            item.model_copy(update={"callback_url": req.callback_url})
            if req.callback_url and not item.callback_url
            else item
            for item in req.items
        ]
        for item in items:
            self._admission.check_entitlements(identity, item)
        self._check_quota(identity, len(items))
        batch_id = "bat_" + secrets.token_urlsafe(15)
        ids: list[str] = []
        created: list[Generation] = []
        served: list[Generation] = []  # cache hits with a callback: ended already, called back now
        try:
            for index, item in enumerate(items):
                rate = None if index == 0 else (f"rl:{identity.key}:batch:{batch_id}", len(items) + 1)
                admitted = self._admission.admit(identity, item, lane=BATCH_LANE, batch=batch_id, rate=rate)
                ids.append(admitted.generation.id)
                if admitted.outcome == "created":
                    created.append(admitted.generation)
                elif admitted.outcome == "cached" and admitted.generation.callback_url:
                    served.append(admitted.generation)
            doc = {
                "id": batch_id,
                "owner": identity.key,
                "generation_ids": ids,
                "created_at": iso(self._clock.time()),
            }
            if req.callback_url:
                doc["callback_url"] = req.callback_url
            # Inside the compensation: a batch whose record cannot be written is refused, and the
            # items it admitted are failed and refunded now rather than held until their deadline.
            self._kv.set(f"batch:{batch_id}", json.dumps(doc, separators=(",", ":")), BATCH_TTL_S)
        except DomainError as exc:
            self._compensate(created, exc.code)
            raise
        except Exception:
            self._compensate(created, "internal")
            raise
        for generation in created:
            try:
                self._queue.enqueue(generation.id, BATCH_LANE)
            except Exception:
                # Nothing lost: an item that cannot be queued ends now, refunded (and called back).
                log.exception("batch item could not be queued", extra={"job_id": generation.id})
                self._finish.fail(generation, NOT_QUEUED)
        for generation in served:
            # Due already (admit.lua put it on the callback timer): delivered now, not at the
            # reaper's next pass.
            try:
                self._queue.enqueue(generation.id, BATCH_LANE, "callback")
            except Exception:
                log.warning("callback not queued; the reaper delivers it", extra={"job_id": generation.id})
        # Without a new job (every item a cache hit, a replay or a follower of another job, whose
        # end may have come before the batch was recorded) no item's end may be left to tell it.
        self._bus.publish(BatchRecorded(batch_id, new_jobs=len(created)))
        log.info("batch accepted", extra={"batch_id": batch_id, "items": len(ids), "new": len(created)})
        return BatchAccepted(id=batch_id, generation_ids=ids)

    def get(self, identity: Identity, batch_id: str) -> BatchStatus:
        """The batch's counts by status (owner only: another identity's batch is 404)."""
        raw = self._kv.get(f"batch:{batch_id}") if valid_batch_id(batch_id) else None
        doc = json.loads(raw) if raw else None
        if not isinstance(doc, dict) or doc.get("owner") != identity.key:
            raise NotFound("No such batch.")
        ids = [str(i) for i in doc.get("generation_ids", [])]
        counts = dict.fromkeys(STATUSES, 0)
        for status in self._generations.statuses(ids):
            if status in counts:
                counts[status] += 1
        return BatchStatus(id=batch_id, counts=counts, generation_ids=ids)

    def _check_quota(self, identity: Identity, wanted: int) -> None:
        quota = self._reads.quota(identity)
        short = [w for w in quota.limits if w.remaining is not None and w.remaining < wanted]
        if short:
            reset = max(w.reset for w in short)
            raise QuotaExceeded(
                f"This batch needs {wanted} generations; your API key has fewer left in this window.",
                retry_after=max(1, int(reset - self._clock.time())),
            )

    def _compensate(self, created: list[Generation], code: str) -> None:
        for generation in created:
            try:
                self._finish.fail(
                    generation, Failure(code, "The batch was refused; this item was not charged.")
                )
            except Exception:
                log.exception("could not undo a batch item", extra={"job_id": generation.id})
