"""The ``experiments`` object of ``GET /v1/admin/stats``, from the counters that
``services/operations/experiment.py`` keeps (read in the stats' one MGET)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chalicelib.domain.experiment import ARMS, NAME, Arm, wilson_interval
from chalicelib.schemas.admin import ExperimentArmStats, ExperimentStats
from chalicelib.services.operations.experiment import BUCKET_LABELS, counter_key

__all__ = ["experiment_keys", "experiment_stats"]


def experiment_keys(add: Callable[[str], int]) -> dict[Arm, dict[str, int]]:
    """Registers every counter the stats read (``add`` returns where its value lands)."""
    plan: dict[Arm, dict[str, int]] = {}
    for arm in ARMS:
        names = ["generations", "adopted", "cost_usd", *(f"latency:{label}" for label in BUCKET_LABELS)]
        plan[arm] = {name: add(counter_key(arm, name)) for name in names}
    return plan


def experiment_stats(
    share: float,
    plan: dict[Arm, dict[str, int]],
    values: Sequence[float],
    percentile: Callable[[Sequence[int], float], float | None],
) -> dict[str, ExperimentStats]:
    """The ``experiments`` object of ``GET /v1/admin/stats``."""
    arms = []
    for arm in ARMS:
        at = plan[arm]
        generations, adopted = int(values[at["generations"]]), int(values[at["adopted"]])
        cost = round(values[at["cost_usd"]], 6)
        buckets = [int(values[at[f"latency:{label}"]]) for label in BUCKET_LABELS]
        interval = wilson_interval(adopted, generations)
        arms.append(
            ExperimentArmStats(
                arm=arm,
                generations=generations,
                adopted=adopted,
                adoption_rate=round(adopted / generations, 4) if generations else None,
                adoption_ci95=(round(interval[0], 4), round(interval[1], 4)) if interval else None,
                cost_usd=cost,
                cost_per_adopted_usd=round(cost / adopted, 6) if adopted else None,
                p50_latency_ms=percentile(buckets, 0.5),
            )
        )
    return {NAME: ExperimentStats(share=share, arms=arms)}
