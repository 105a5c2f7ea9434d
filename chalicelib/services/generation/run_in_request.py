"""The request waiting for its own job: run it now, within the wait, and answer with the result.

The request reserves a way to run before it is admitted (a free thread of this process, or, in
webhook mode, a provider's queue API), so that the admit script can claim the job for it in the
same store call: one round trip fewer on the hot path. The job then runs on the reserved thread
(:class:`RunJob`) or at the provider (:class:`RunAtProvider`). A job that outlives the wait goes
on (the same call finishes it: never a second provider call) and the request answers 202.
Until the request answers, the job is *unannounced* (see ``services/generation/progress.py``): its phases
cost no store call, since nobody else knows its id yet.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from chalicelib.domain.generation import Generation
from chalicelib.ports import GenerationStore, StoreError
from chalicelib.services.generation.dispatch import Dispatch
from chalicelib.services.generation.progress import Unannounced, unannounced
from chalicelib.services.generation.run_at_provider import RunAtProvider
from chalicelib.services.generation.run_job import RunJob
from chalicelib.services.messagebus import MessageBus

log = logging.getLogger(__name__)


@dataclass
class Reservation:
    """A way to run one job now: a thread slot (``at_provider`` False) or a provider's queue API."""

    at_provider: bool
    _release: threading.BoundedSemaphore | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give the slot back (once); the job was not run here after all."""
        slot, self._release = self._release, None
        if slot is not None:
            slot.release()


class RunInRequest:
    """Runs a request's job within its wait (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        run_job: RunJob,
        at_provider: RunAtProvider,
        dispatch: Dispatch,
        bus: MessageBus,
        threads: int,
    ) -> None:
        self._bus = bus
        self._generations = generations
        self._run_job = run_job
        self._at_provider = at_provider
        self._dispatch = dispatch
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="avatarflow-sync")
        self._slots = threading.BoundedSemaphore(threads)

    def reserve(self, quality: str, *, photo: bool = False) -> Reservation | None:
        """A way to run a job of this quality now, or None (every thread busy: queue it). A photo
        generation runs on a thread here (the photo models), never at a text-to-image queue API."""
        if not photo and self._at_provider.serves(quality):
            return Reservation(at_provider=True)
        if not self._slots.acquire(blocking=False):
            return None
        return Reservation(at_provider=False, _release=self._slots)

    def run(self, claimed: Generation, wait: float, reservation: Reservation) -> Generation:
        """The job (claimed for this request when it was admitted) after at most ``wait``
        seconds: ended, or still running."""
        holder = Unannounced(self._bus)
        if reservation.at_provider:
            try:
                with unannounced(holder):
                    found = self._at_provider.run_claimed(claimed, wait)
            except Exception as exc:
                # Admitted and charged: never leave it waiting for the reaper. Released and put on
                # its lane; the stored provider job keeps the lane from submitting it twice.
                log.exception("sync path failed; handing the job to its lane", extra={"job_id": claimed.id})
                self._dispatch.requeue(claimed, exc)
                return claimed
            if found.is_open:
                holder.announce()  # the request answers 202: the job's phase is on record from now
            return found
        return self._on_a_thread(claimed, wait, reservation, holder)

    def _on_a_thread(
        self, claimed: Generation, wait: float, reservation: Reservation, holder: Unannounced
    ) -> Generation:
        def run_and_release() -> Generation | None:
            try:
                with unannounced(holder):
                    return self._run_job.run_claimed(claimed)
            finally:
                reservation.release()

        try:
            # The job's log lines keep the request's context (request id, caller's kind).
            future = self._executor.submit(contextvars.copy_context().run, run_and_release)
        except RuntimeError as exc:  # executor shut down: hand the job to the lanes
            reservation.release()
            self._dispatch.requeue(claimed, exc)
            return claimed
        try:
            ended = future.result(timeout=wait)
        except TimeoutError:
            holder.announce()  # the request answers 202 while the job runs on
            self._dispatch.hand_over(claimed)
            return claimed
        except StoreError:
            # The job could not be ended (the store failed on the way): its lease runs out and the
            # lane (or the reaper) takes it over.
            log.warning("could not end the job in the request", extra={"job_id": claimed.id})
            holder.announce()
            self._dispatch.hand_over(claimed)
            return claimed
        if ended is not None:
            return ended  # as this call ended it: no need to read it back
        try:
            return self._generations.get(claimed.id) or claimed
        except StoreError:
            return claimed  # admitted: answered as it is (202), never as not done


__all__ = ["Reservation", "RunInRequest"]
