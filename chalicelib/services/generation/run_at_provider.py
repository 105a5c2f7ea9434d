"""The request waiting for its job in webhook mode: submit it to a provider's queue API and wait
for its end until the wait runs out (a Lambda cannot finish work after it has answered).

Between two polls of the provider the request blocks on the job's wake-up list (``BLPOP``, the
list ``finish.lua`` pushes to when the job ends), not on a sleep: the webhook usually ends the
job, on another API process, and the waiting request answers as soon as it has (not when its
wait runs out, as a poll that finds the webhook's completion claim taken would). The poll stays
as the fallback of a late webhook.

The answer is the job as it is then: ended (200 or an error), or still running (202) and left to
the webhook, the poller or the reaper: the same provider job, never a second one.
"""

from __future__ import annotations

from chalicelib.domain.errors import DomainError
from chalicelib.domain.generation import Generation
from chalicelib.ports import Clock, GenerationStore, ProviderError, StoreError
from chalicelib.services.generation.collect import CollectResult
from chalicelib.services.generation.dispatch import Dispatch
from chalicelib.services.generation.finish import FinishGeneration
from chalicelib.services.generation.run_job import NOT_RETRIED
from chalicelib.services.generation.submit import SubmitToProvider

FIRST_POLL_S = 0.5
MAX_POLL_GAP_S = 2.0


def poll_gaps(wait: float) -> list[float]:
    """The waits between two polls of the provider within a request's ``wait``: short at first
    (a quick job), then every ``MAX_POLL_GAP_S``. Bounded by the wait whatever the clock says."""
    gaps: list[float] = []
    delay, total = FIRST_POLL_S, 0.0
    while total + delay < wait:
        gaps.append(delay)
        total += delay
        delay = min(delay * 1.5, MAX_POLL_GAP_S)
    return gaps


class RunAtProvider:
    """Runs a request's job at a provider's queue API within the request's wait."""

    def __init__(
        self,
        *,
        generations: GenerationStore,
        submit: SubmitToProvider,
        collect: CollectResult,
        dispatch: Dispatch,
        finish: FinishGeneration,
        clock: Clock,
    ) -> None:
        self._generations = generations
        self._submit = submit
        self._collect = collect
        self._dispatch = dispatch
        self._finish = finish
        self._clock = clock

    def serves(self, quality: str) -> bool:
        """Webhook mode, with a queue-capable provider for this quality."""
        return bool(self._submit.candidates(quality))

    def run_claimed(self, claimed: Generation, wait: float) -> Generation:
        """The job (claimed for this request when it was admitted) after at most ``wait`` seconds."""
        candidates = self._submit.candidates(claimed.model_quality)
        deadline = self._clock.monotonic() + wait
        try:
            job = self._submit.submit(claimed, candidates)
        except ProviderError as exc:
            if exc.kind in NOT_RETRIED:
                self._finish.fail_for(claimed, exc)
            else:
                self._dispatch.requeue(claimed, exc)  # no provider took it now: its lane retries it (202)
            return self._latest(claimed)
        except DomainError as exc:
            self._finish.fail_for(claimed, exc)
            return self._latest(claimed)
        provider = self._submit.provider(job.provider) if job is not None else None
        if job is None or provider is None:
            return self._latest(claimed)
        for delay in poll_gaps(wait):
            if self._clock.monotonic() + delay >= deadline:
                break
            if self._ended_within(claimed, delay):
                break  # ended elsewhere (its webhook, usually): read as it is stored, in full
            if self._collect.poll(claimed, provider, job) in ("done", "failed"):
                break
        return self._latest(claimed)

    def _ended_within(self, generation: Generation, seconds: float) -> bool:
        """Whether the job ended within ``seconds`` (woken by its end, in one blocking call); a
        store that fails the blocking read makes it a plain sleep (the poll that follows still
        ends the job)."""
        try:
            return self._generations.wait_ended(generation, seconds) is not None
        except StoreError:
            self._clock.sleep(seconds)
            return False

    def _latest(self, generation: Generation) -> Generation:
        return self._generations.get(generation.id) or generation
