"""The knobs of the generation use cases, read from the settings once (``bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.budget import Budget
from chalicelib.domain.moderation import PromptModeration


@dataclass(frozen=True)
class GenerationPolicy:
    rate_per_minute: int = 120  # general request rate per identity (cached requests count)
    refused_prompts_per_hour: int = 10  # past it, every generation request waits for the hour's end
    default_wait_s: float = 8.0  # how long POST /v1/generations waits before answering 202
    max_wait_s: float = 20.0  # upper bound of Prefer: wait=N
    cache_ttl_s: int = 7 * 24 * 3600
    job_deadline_s: int = 900  # every job has ended this long after its admission (the reaper)
    sync_threads: int = 4  # jobs run inside requests at once, per container
    sync_qualities: tuple[str, ...] = ("fast",)  # answered within the wait; the others queue at once
    sync_max_depth: int = 25  # a lane deeper than this queues every request
    lease_ms: int = 120_000  # a claimed job is its worker's for this long
    max_receives: int = 5  # at this receive of a lane message a failure fails the job (refunded)
    max_attempts: int = 3  # provider jobs (webhook mode) submitted again after failing
    budget: Budget = field(default_factory=Budget)
    experiment_dev_share: float = 0.0  # of eligible `fast` requests served by FLUX dev (domain/experiment.py)
    moderation: PromptModeration = field(default_factory=PromptModeration.from_file)  # refused prompts

    def wait_for(self, wait: float | None) -> float:
        """The wait a request gets: its own (``Prefer: wait``) up to the maximum, else the default."""
        return self.default_wait_s if wait is None else max(0.0, min(wait, self.max_wait_s))
