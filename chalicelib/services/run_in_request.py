"""The request waiting for its own job: run it now, within the wait, and answer with the result.

In webhook mode the job goes to a provider's queue API and the request polls it
(:class:`RunAtProvider`); otherwise it runs on one of a few threads of this process. A job that
outlives the wait goes on (the same call finishes it: never a second provider call) and the
request answers 202.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain.generation import Generation
from chalicelib.ports import GenerationStore, StoreError
from chalicelib.services.dispatch import Dispatch
from chalicelib.services.run_at_provider import RunAtProvider
from chalicelib.services.run_job import RunJob

log = logging.getLogger(__name__)


class RunInRequest:
    """Runs a request's job within its wait (see the module docstring)."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        run_job: RunJob,
        at_provider: RunAtProvider,
        dispatch: Dispatch,
        threads: int,
    ) -> None:
        self._generations = generations
        self._run_job = run_job
        self._at_provider = at_provider
        self._dispatch = dispatch
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="avatarflow-sync")
        self._slots = threading.BoundedSemaphore(threads)

    def run(self, generation: Generation, wait: float) -> Generation:
        """The job after at most ``wait`` seconds: ended, or still running; queued on its lane
        when it cannot run here (no free thread, a failed claim)."""
        try:
            latest = self._at_provider.run_within(generation, wait)
        except Exception:
            # Admitted and charged: never leave it waiting for the reaper. The lane runs it; the
            # claim lease and the stored provider job keep that from running it twice.
            log.exception("sync path failed; handing the job to its lane", extra={"job_id": generation.id})
            self._dispatch.enqueue(generation)
            return generation
        if latest is not None:
            return latest
        return self._on_a_thread(generation, wait)

    def _on_a_thread(self, generation: Generation, wait: float) -> Generation:
        if not self._slots.acquire(blocking=False):
            self._dispatch.enqueue(generation)
            return generation

        def run_and_release() -> None:
            try:
                self._run_job.run(generation.id)
            finally:
                self._slots.release()

        try:
            # The job's log lines keep the request's context (request id, caller's kind).
            future = self._executor.submit(contextvars.copy_context().run, run_and_release)
        except RuntimeError:  # executor shut down: hand the job to the lanes
            self._slots.release()
            self._dispatch.enqueue(generation)
            return generation
        try:
            future.result(timeout=wait)
        except TimeoutError:
            self._dispatch.hand_over(generation)
            return dataclasses.replace(generation, status="running")
        except StoreError:
            # run_job catches everything after its claim, so the claim itself failed: nothing ran.
            log.warning(
                "could not claim the job in the request; handing it to its lane",
                extra={"job_id": generation.id},
            )
            self._dispatch.enqueue(generation)
            return generation
        return self._generations.get(generation.id) or generation
