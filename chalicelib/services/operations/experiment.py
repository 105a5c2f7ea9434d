"""The schnell-against-dev experiment's counters: kept by event handlers, read by the admin stats.

Per arm (``domain/experiment.py``), in plain counters (no scan of records)::

    exp:flux_dev_for_fast:{arm}:generations         succeeded jobs the arm's model made
    exp:flux_dev_for_fast:{arm}:cost_usd            what they cost
    exp:flux_dev_for_fast:{arm}:latency:{bucket}    their provider latency (the stats' buckets)
    exp:flux_dev_for_fast:{arm}:adopted             of them, the ones their owner made their avatar

A result served from cache or shared with an identical request in flight is no generation of an
arm (it cost nothing and made nothing): only the job itself counts, and only it can be adopted.
Each handler adds in one store call, once per generation (a marker in the same call), and only
for generations that carry an arm: with the experiment off nothing is added anywhere. The admin
stats read them back (``services/operations/experiment_stats.py``) in their own single MGET.
"""

from __future__ import annotations

from chalicelib.domain.events import GenerationChosen, GenerationFinished
from chalicelib.domain.experiment import NAME
from chalicelib.domain.generation import Generation
from chalicelib.ports import Counter, Counters
from chalicelib.services.operations.counters import LATENCY_BUCKETS_MS, bucket_label

__all__ = ["BUCKET_LABELS", "ExperimentTracker", "counter_key"]

COUNTER_TTL = 180 * 86400  # refreshed by every add: an experiment's figures outlive a quiet month
COUNTED_TTL = 3 * 86400  # a finished job's marker: longer than any redelivery of its event
ADOPTED_TTL = 31 * 86400  # an adoption's marker: longer than a generation record lives
BUCKET_LABELS: tuple[str, ...] = (*(f"le{b}" for b in LATENCY_BUCKETS_MS), "inf")


def counter_key(arm: str, name: str) -> str:
    """One of an arm's counters (see the module docstring)."""
    return f"exp:{NAME}:{arm}:{name}"


def _counted(generation: Generation) -> bool:
    return generation.arm is not None and not generation.cached


class ExperimentTracker:
    """Handlers of :class:`GenerationFinished` (a made generation, its cost and latency) and
    :class:`GenerationChosen` (adopted as an avatar)."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def on_finished(self, event: GenerationFinished) -> None:
        generation = event.generation
        if not _counted(generation) or generation.status != "succeeded" or generation.arm is None:
            return
        arm = generation.arm
        counters = [
            Counter(counter_key(arm, "generations"), 1, COUNTER_TTL),
            Counter(counter_key(arm, "cost_usd"), generation.cost_usd or 0.0, COUNTER_TTL),
        ]
        if generation.provider_latency_ms is not None:
            label = bucket_label(generation.provider_latency_ms)
            counters.append(Counter(counter_key(arm, f"latency:{label}"), 1, COUNTER_TTL))
        self._counters.add(counters, once=(f"exp:{NAME}:counted:{generation.id}", COUNTED_TTL))

    def on_chosen(self, event: GenerationChosen) -> None:
        generation = event.generation
        if not _counted(generation) or generation.arm is None:
            return
        self._counters.add(
            [Counter(counter_key(generation.arm, "adopted"), 1, COUNTER_TTL)],
            once=(f"exp:{NAME}:adopted:{generation.id}", ADOPTED_TTL),
        )
