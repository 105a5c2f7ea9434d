"""A lane message, handled: a job to run (or, in webhook mode, to submit), or a callback to deliver.

Lane workers (``workers/lanes.py`` on SQS, or the in-process queue) call :meth:`LaneWorker.handle`.
The job's claim (``claim.lua``) lets one worker hold it, so a message delivered twice calls the
provider once. A failed attempt is released and its message retried; at the N-th receive
(``ApproximateReceiveCount``) the worker fails the job (refunded) instead. DLQs are the backstop of
the lanes; the reaper is the backstop of everything.

In webhook mode a job whose worker died between its submit and the store write of the provider's
handle comes back with its submit's intent on record (``services/generation/submit.py``): its webhook adopts
the provider's job and ends it. Its redelivery waits for that (it leaves the message to come back)
until the provider's usual time has passed since the intent, then submits again; at its last
receive it submits at once rather than fail a job that may never have reached a provider.
"""

from __future__ import annotations

import logging
from typing import Literal

from chalicelib.domain.errors import DomainError
from chalicelib.domain.generation import Generation
from chalicelib.ports import Clock, GenerationStore, MessageKind, ProviderError, StoreError
from chalicelib.services.generation.callbacks import DeliverCallback
from chalicelib.services.generation.finish import FinishGeneration
from chalicelib.services.generation.policy import GenerationPolicy
from chalicelib.services.generation.progress import publish_phase
from chalicelib.services.generation.run_job import NOT_RETRIED, RunJob
from chalicelib.services.generation.submit import SubmitToProvider, expected_s
from chalicelib.services.messagebus import MessageBus

log = logging.getLogger(__name__)

LaneOutcome = Literal["done", "retry"]


class LaneWorker:
    """Handles lane messages (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        run_job: RunJob,
        submit: SubmitToProvider,
        finish: FinishGeneration,
        callbacks: DeliverCallback,
        policy: GenerationPolicy,
        clock: Clock,
        bus: MessageBus,
    ) -> None:
        self._generations = generations
        self._bus = bus
        self._run_job = run_job
        self._submit = submit
        self._finish = finish
        self._callbacks = callbacks
        self._policy = policy
        self._clock = clock

    @property
    def max_receives(self) -> int:
        return self._policy.max_receives

    def handle(
        self, generation_id: str, kind: MessageKind = "job", receive_count: int | None = None
    ) -> LaneOutcome:
        """One lane message. ``retry``: leave it to be redelivered.

        ``receive_count`` is the message's ``ApproximateReceiveCount``; at ``max_receives`` (or
        with None: a queue that never redelivers) a failure fails the job (refund) at once.
        """
        if kind == "callback":
            self._callbacks.deliver(generation_id)
            return "done"
        return self._run(generation_id, receive_count)

    @staticmethod
    def _submit_may_be_pending(generation: Generation, now_ms: int) -> bool:
        """A submit was made (or about to be) and its handle never written, less than the
        provider's usual time ago: its webhook may yet come and adopt it."""
        intent = generation.submit_intent
        if intent is None or generation.provider_job is not None:
            return False
        return now_ms < intent.at_ms + int(expected_s(generation.model_quality) * 1000)

    def _run(self, generation_id: str, receive_count: int | None) -> LaneOutcome:
        final = receive_count is None or receive_count >= self._policy.max_receives
        now_ms = int(self._clock.time() * 1000)
        generation = self._generations.claim(generation_id, now_ms, self._policy.lease_ms)
        if generation is None:
            current = self._generations.get(generation_id)
            if current is None or current.is_terminal or current.provider_job is not None:
                return "done"  # ended, or at a provider (its webhook, the poller or the reaper end it)
            # Another worker holds it: look again later; past N receives the reaper is the backstop.
            return "done" if final else "retry"
        if not final and self._submit_may_be_pending(generation, now_ms):
            log.info(
                "a submit of this job may be at its provider: waiting for its webhook",
                extra={"job_id": generation_id},
            )
            return "retry"
        publish_phase(self._bus, generation, "starting", self._clock)
        try:
            # A photo generation runs here, on the photo models: no text-to-image queue API takes it.
            candidates = [] if generation.photo else self._submit.candidates(generation.model_quality)
            if not candidates:
                return "done" if self._run_job.execute(generation, final=final) else "retry"
            try:
                self._submit.submit(generation, candidates)
            except ProviderError as exc:
                if final or exc.kind in NOT_RETRIED:
                    self._finish.fail_for(generation, exc)
                    return "done"
                self._generations.release(generation_id)
                return "retry"
            except DomainError as exc:
                self._finish.fail_for(generation, exc)
            return "done"
        except StoreError:
            raise  # the message is retried; the claim's lease runs out first
        except Exception as exc:
            log.exception("lane job crashed", extra={"job_id": generation_id})
            if final:
                self._finish.fail_for(generation, exc)
                return "done"
            self._generations.release(generation_id)
            return "retry"
