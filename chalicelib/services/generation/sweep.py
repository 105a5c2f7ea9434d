"""The dispatch sweep: a job admitted but never handed to a worker is dispatched 30 s on, not
failed at its deadline 15 minutes later.

A job can be admitted and then left by its request: the enqueue to its lane failed (the queue or
the store stalled), or the API process died between the admit call and the enqueue, or a request
that claimed its job to run it at once died before it ran (its lease runs out, nobody holds it).
Nothing would pick such a job up until the reaper fails it at its deadline. The sweep (part of each
reaper pass) reads the open jobs admitted at least :data:`SWEEP_AFTER_S` ago, the most recent first,
and puts on its lane each one that nobody holds: ``queued``, or ``running`` with its lease run out,
and not at a provider (the webhook or the poller ends those). A queued job in a lane with messages
waiting is left alone for :data:`BACKLOG_GRACE_S` (it is most likely one of them).

Idempotent: the lane's claim (``claim.lua``) lets one worker run a job, so a job dispatched twice (it
was only waiting in a busy lane) still calls its provider once; a marker keeps the sweep from
dispatching the same job more than once every :data:`SWEPT_TTL_S`, and two sweeps running at once
from both dispatching it.
"""

from __future__ import annotations

import logging

from chalicelib.ports import Clock, GenerationStore, JobQueue, JobTimers, KeyValueStore

log = logging.getLogger(__name__)

SWEEP_AFTER_S = 30.0  # a job nothing has picked up this long after its admission is dispatched
SWEPT_TTL_S = 300  # the same job is dispatched by the sweep at most once in this time
# A queued job in a lane that has messages waiting may only be waiting its turn: a second message
# would join the same line and add work, not speed. It is dispatched once it has waited this long.
BACKLOG_GRACE_S = 300.0


class DispatchUndispatched:
    """One sweep pass (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        timers: JobTimers,
        queue: JobQueue,
        kv: KeyValueStore,
        job_deadline_s: int,
        clock: Clock,
    ) -> None:
        self._generations = generations
        self._timers = timers
        self._queue = queue
        self._kv = kv
        self._deadline_ms = job_deadline_s * 1000
        self._clock = clock

    def sweep(self, limit: int = 100) -> dict[str, int]:
        """Dispatch the jobs nobody has picked up; counts by outcome (``dispatched``, ...)."""
        now_ms = int(self._clock.time() * 1000)
        # Open jobs are listed by their deadline (admitted + the job deadline): admitted at least
        # SWEEP_AFTER_S ago and not yet past it (past it, the reaper's deadline step ends them).
        admitted_by = now_ms - int(SWEEP_AFTER_S * 1000)
        counts: dict[str, int] = {}
        for generation_id in self._timers.due_between(
            "deadline", now_ms, admitted_by + self._deadline_ms, limit
        ):
            try:
                outcome = self._one(generation_id, now_ms, admitted_by)
            except Exception:
                log.exception("sweep step failed", extra={"job_id": generation_id})
                outcome = "error"
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def _one(self, generation_id: str, now_ms: int, admitted_by: int) -> str:
        generation = self._generations.get(generation_id)
        if generation is None or not generation.is_open:
            return "ended"
        if generation.provider_job is not None:
            return "at_provider"
        if generation.status == "running" and generation.lease_until_ms > now_ms:
            return "held"
        admitted_ms = generation.created_epoch * 1000
        if admitted_ms > admitted_by:
            return "recent"  # a deadline from another setting: not 30 s old yet
        if (
            generation.status == "queued"
            and now_ms - admitted_ms < BACKLOG_GRACE_S * 1000
            and self._queue.depth(generation.lane) > 0
        ):
            return "backlog"
        marker = f"swept:{generation_id}"
        if not self._kv.set_once(marker, "1", SWEPT_TTL_S):
            return "swept"  # dispatched by a sweep a moment ago: its worker has not claimed it yet
        try:
            self._queue.enqueue(generation_id, generation.lane)
        except Exception:
            self._kv.delete(marker)  # the next pass tries again
            raise
        log.warning(
            "job admitted but never picked up: dispatched",
            extra={"job_id": generation_id, "status": generation.status},
        )
        return "dispatched"
