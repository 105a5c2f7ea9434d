"""The one table of reactions: each domain event (``domain/events.py``) to its handlers, in the
order they run. ``build_container`` installs it on the bus once, after every handler exists; no
other code subscribes (tests may, to listen). docs/architecture.md shows the table.

Every :class:`~chalicelib.domain.events.Event` is either a key of :func:`event_handlers` or listed
in :data:`UNHANDLED` with the reason (tests/unit/test_event_table.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.events import (
    BatchFinished,
    BatchItemsEnded,
    BatchRecorded,
    Event,
    GalleryItemChosen,
    GenerationAdmitted,
    GenerationChosen,
    GenerationFinished,
    GenerationProgressed,
    PromptRefused,
    ProviderAttempted,
    ProviderKeyChanged,
    SpendRecorded,
)
from chalicelib.services.messagebus import Handler

if TYPE_CHECKING:
    from chalicelib.services.generation.batch_completion import BatchCompletion
    from chalicelib.services.generation.callbacks import CallbackScheduler
    from chalicelib.services.generation.latency import LatencyEstimates
    from chalicelib.services.operations.budget_alerts import BudgetAlerts
    from chalicelib.services.operations.experiment import ExperimentTracker
    from chalicelib.services.realtime.push import PushUpdates

# Events that nothing reacts to, on purpose, and why.
UNHANDLED: Mapping[type[Event], str] = {
    PromptRefused: (
        "counted by Refusals in the admission's own store call (services/generation/refusals.py), "
        "so the admin stats never miss one; published for listeners (tests), no reaction needed"
    ),
}


@dataclass(frozen=True)
class Reactions:
    """The objects whose methods handle events, made by ``build_container`` (the optional ones
    exist only where configured: the burst lane, Unsplash's download tracking)."""

    callbacks: CallbackScheduler
    latency: LatencyEstimates
    pushes: PushUpdates
    batch_completion: BatchCompletion
    experiment: ExperimentTracker
    budget_alerts: BudgetAlerts
    saturation: Handler | None = None  # the burst lane's queue positions (webhook mode)
    track_download: Callable[[GalleryItemChosen], None] | None = None


def event_handlers(r: Reactions) -> dict[type[Event], list[Handler]]:
    """Event -> handlers, in the order they run (a failing one is logged; the others still run)."""
    from chalicelib.observability import metrics
    from chalicelib.services.operations import key_alerts

    return {
        GenerationAdmitted: [metrics.on_admitted],
        GenerationProgressed: [r.pushes.on_progressed, *_present(r.saturation)],
        GenerationFinished: [
            metrics.on_finished,
            r.callbacks.on_finished,  # the client's callback, on a lane
            r.latency.on_finished,  # the ETAs
            r.pushes.on_finished,  # the real-time push
            r.batch_completion.on_finished,  # its batch may end with it
            r.experiment.on_finished,  # the schnell-against-dev experiment
        ],
        BatchItemsEnded: [r.batch_completion.on_items_ended],
        BatchRecorded: [r.batch_completion.on_recorded],
        BatchFinished: [r.pushes.on_batch_finished],
        SpendRecorded: [r.budget_alerts.on_spend],
        ProviderAttempted: [metrics.on_provider_attempted],
        ProviderKeyChanged: [key_alerts.on_key_changed],  # published by the key pools (on_change)
        GenerationChosen: [r.experiment.on_chosen],
        GalleryItemChosen: [*_present(r.track_download)],  # Unsplash's download tracking
    }


def _present(handler: Handler | None) -> list[Handler]:
    return [handler] if handler is not None else []
