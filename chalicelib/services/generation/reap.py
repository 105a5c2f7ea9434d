"""The reaper: nothing left behind. One bounded pass (the schedule, or a thread in the local stage):

- dispatches the jobs admitted but never picked up 30 s on (``services/generation/sweep.py``);
- polls the webhook-mode jobs whose webhook is late (the polling fallback), with a growing gap;
- ends every job still open past its deadline (one last poll, else failed and refunded);
- ends the joined requests a job's finisher left (it stopped between two chunks);
- delivers the client callbacks that are due (retries with backoff).

And, when a local process starts, it queues again the jobs the store still holds open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from chalicelib.observability.logs import log_context
from chalicelib.ports import Clock, GenerationStore, JobQueue, JobTimers, ProviderDown, TimerKind
from chalicelib.services.generation.callbacks import DeliverCallback
from chalicelib.services.generation.collect import CollectResult
from chalicelib.services.generation.finish import FinishGeneration
from chalicelib.services.generation.submit import SubmitToProvider
from chalicelib.services.generation.sweep import DispatchUndispatched

log = logging.getLogger(__name__)

MIN_POLL_GAP_S = 15.0
MAX_POLL_GAP_S = 300.0
PAST_DEADLINE = ProviderDown("the job did not finish before its deadline")
Timer = Literal["poll", "deadline", "callback"]


class Reaper:
    """Works through the job timers the store keeps (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        timers: JobTimers,
        queue: JobQueue,
        submit: SubmitToProvider,
        collect: CollectResult,
        finish: FinishGeneration,
        callbacks: DeliverCallback,
        clock: Clock,
        sweep: DispatchUndispatched | None = None,
    ) -> None:
        self._sweep = sweep
        self._generations = generations
        self._timers = timers
        self._queue = queue
        self._submit = submit
        self._collect = collect
        self._finish = finish
        self._callbacks = callbacks
        self._clock = clock

    def reap(self, *, limit: int = 100, budget_s: float = 45.0) -> dict[str, int]:
        """One pass: undispatched jobs, due polls, expired jobs, due callbacks (bounded in items
        and in time)."""
        stop = self._clock.monotonic() + budget_s
        counts: dict[str, int] = {}
        if self._sweep is not None:
            try:
                swept = self._sweep.sweep(limit)
            except Exception:  # the store is down: the steps below say so too
                log.exception("dispatch sweep failed")
                swept = {"error": 1}
            for outcome, n in swept.items():
                if outcome in ("dispatched", "error"):  # the rest is the normal state of open jobs
                    counts[f"sweep:{outcome}"] = n

        def run(timer: TimerKind, action: Callable[[str], str]) -> None:
            for generation_id in self._timers.due(timer, self._now_ms(), limit):
                if self._clock.monotonic() > stop:
                    return
                with log_context(job_id=generation_id):
                    try:
                        outcome = action(generation_id)
                    except Exception:
                        log.exception("reaper step failed", extra={"job_id": generation_id, "timer": timer})
                        outcome = "error"
                key = f"{timer}:{outcome}"
                counts[key] = counts.get(key, 0) + 1

        run("poll", self.poll)
        run("deadline", self.expire)
        run("followers", self.end_followers)
        run("callback", self._callbacks.deliver)
        if counts:
            log.info("reaper pass", extra={"counts": counts})
        return counts

    def poll(self, generation_id: str) -> str:
        """Read a webhook-mode job at its provider (its webhook is late); reschedule if unfinished."""
        generation = self._generations.get(generation_id)
        job = generation.provider_job if generation is not None else None
        provider = self._submit.provider(job.provider) if job is not None else None
        if generation is None or generation.is_terminal or job is None or provider is None:
            self._timers.schedule("poll", generation_id, None)
            return "gone"
        outcome = self._collect.poll(generation, provider, job)
        if outcome in ("pending", "transient", "busy"):
            now = self._clock.time()
            elapsed = max(0.0, now - job.submitted_ms / 1000)
            gap = min(MAX_POLL_GAP_S, max(MIN_POLL_GAP_S, elapsed / 2))
            self._timers.schedule("poll", generation_id, int((now + gap) * 1000))
        return outcome

    def expire(self, generation_id: str) -> str:
        """A job past its deadline: read its provider job one last time, else fail it (refund)."""
        generation = self._generations.get(generation_id)
        if generation is None or generation.is_terminal:
            self._timers.schedule("deadline", generation_id, None)
            return "gone" if generation is None else "ended"
        job = generation.provider_job
        provider = self._submit.provider(job.provider) if job is not None else None
        if job is not None and provider is not None:
            try:
                outcome = self._collect.poll(generation, provider, job)
            except Exception:
                log.exception("last poll failed", extra={"job_id": generation_id})
                outcome = "transient"
            if outcome in ("done", "failed"):
                return outcome
            provider.cancel(job)
        log.warning("job past its deadline: failed", extra={"job_id": generation_id})
        self._finish.fail_for(generation, PAST_DEADLINE, provider=job.provider if job is not None else None)
        return "expired"

    def end_followers(self, generation_id: str) -> str:
        """End the joined requests an ended job left (its finisher stopped half way)."""
        self._finish.finish_followers(generation_id)
        return "ended"

    def recover_open_jobs(self) -> int:
        """Queue again every job the store still holds open (after a restart of the worker)."""
        count = 0
        for generation_id in self._generations.open_ids():
            generation = self._generations.get(generation_id)
            if generation is None or not generation.is_open:
                continue
            if generation.provider_job is not None:
                continue  # at a provider (webhook mode): its webhook or the reaper's poll ends it
            if generation.status == "running":
                # Its worker died with the old process: a zero lease lets the next claim take it.
                self._generations.claim(generation_id, self._now_ms(), 0, force=True)
            self._queue.enqueue(generation_id, generation.lane)
            count += 1
        return count

    def _now_ms(self) -> int:
        return int(self._clock.time() * 1000)
