"""The operations use cases from their ports: the budget alerts and the experiment (handlers of
domain events), the admin stats and the picker's funnel (built on first use: no request needs them)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from chalicelib.domain.tiers import Tier
from chalicelib.ports import AlertChannel, Clock, StateStore
from chalicelib.services.generation.policy import GenerationPolicy
from chalicelib.services.operations.budget_alerts import BudgetAlerts
from chalicelib.services.operations.experiment import ExperimentTracker

if TYPE_CHECKING:
    from chalicelib.services.operations.product_events import RecordProductEvents
    from chalicelib.services.operations.stats import StatsService


class OperationsUseCases:
    """What the operators see and are told: alerts, the experiment's counts, stats, the funnel."""

    def __init__(
        self,
        store: StateStore,
        *,
        policy: GenerationPolicy,
        tiers: Mapping[str, Tier],
        providers: Sequence[str],
        channels: Sequence[AlertChannel],
        clock: Clock,
    ) -> None:
        self._store, self._policy, self._tiers = store, policy, tiers
        self._providers, self._clock = tuple(providers), clock
        self.budget_alerts = BudgetAlerts(
            counters=store.counters, kv=store.kv, budget=policy.budget, channels=channels, clock=clock
        )
        # The schnell-against-dev experiment: what each arm made, cost and had adopted.
        self.experiment = ExperimentTracker(store.counters)

    @functools.cached_property
    def stats(self) -> StatsService:
        """``GET /v1/admin/stats``, built on first use."""
        from chalicelib.services.operations.stats import StatsService

        return StatsService(
            self._store.counters,
            tiers=self._tiers,
            budget=self._policy.budget,
            providers=self._providers,
            clock=self._clock,
            experiment_share=self._policy.experiment_dev_share,
        )

    @functools.cached_property
    def product_events(self) -> RecordProductEvents:
        """``POST /v1/events`` (the conversion funnel), built on first use."""
        from chalicelib.services.operations.product_events import RecordProductEvents

        return RecordProductEvents(
            self._store.analytics, rate_per_minute=self._policy.rate_per_minute, clock=self._clock
        )
