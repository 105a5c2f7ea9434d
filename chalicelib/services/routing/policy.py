"""How the router chooses and times its providers: one frozen value (routes, breakers, retries,
deadlines), read from the settings once in bootstrap."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from chalicelib.ports import BreakerPolicy

DEFAULT_ROUTES: Mapping[str, tuple[str, ...]] = {
    "fast": ("fal", "together", "replicate", "huggingface", "runpod"),
    "standard": ("fal", "replicate", "huggingface"),
    "pro": ("fal", "openai"),
}
DEFAULT_DEADLINE_S = 25.0
DEFAULT_MIN_ATTEMPT_S = 1.0
DEFAULT_ATTEMPT_RESERVE_S = 8.0  # kept back for each later vendor: a FLUX image with time to spare


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on the same provider, for providers that deduplicate a repeated request only."""

    max_attempts: int = 3  # calls per provider, the first included
    base_delay_s: float = 0.25
    max_delay_s: float = 2.0

    def delay(self, retry: int, rng: Callable[[], float]) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(max, base * 2**retry))."""
        return rng() * min(self.max_delay_s, self.base_delay_s * (2.0**retry))


@dataclass(frozen=True)
class RoutingPolicy:
    """The router's settings: candidates per quality, breakers, retries and its time budget."""

    routes: Mapping[str, Sequence[str]] = field(default_factory=lambda: DEFAULT_ROUTES)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    deadline_s: float = DEFAULT_DEADLINE_S
    min_attempt_s: float = DEFAULT_MIN_ATTEMPT_S
    attempt_reserve_s: float = DEFAULT_ATTEMPT_RESERVE_S
    trial_lease_s: float | None = None  # None: the deadline plus 5 s

    @property
    def trial_lease_ms(self) -> int:
        """A trial that never reports back (its Lambda died) frees the half-open slot after this."""
        lease = self.trial_lease_s if self.trial_lease_s is not None else self.deadline_s + 5.0
        return round(lease * 1000)


class RealClock:
    """The process's clocks, for a router built without one (tests, benchmarks); bootstrap
    always gives the container's :class:`chalicelib.ports.Clock`."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
