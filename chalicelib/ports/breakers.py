"""Provider circuit breakers shared by every Lambda through the state store (``breaker.lua``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from chalicelib.ports.providers import ProviderError

BreakerOutcome = Literal["success", "failure", "throttled", "auth", "neutral"]
"""What a provider call means for its breaker: ``success`` closes it; ``failure`` (timeout, 5xx,
unreachable) counts towards opening it; ``throttled`` (a 429 with ``Retry-After``) cools it down
until then without counting; ``auth`` (bad key, no credit) opens it for a long time; ``neutral``
(a bad request) leaves it as it is."""

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    """When a provider's breaker opens, and for how long."""

    failure_threshold: int = 3  # consecutive failures that open a closed breaker
    cooldown_s: float = 30.0  # the first open period; doubled after each failed trial ...
    max_cooldown_s: float = 300.0  # ... up to this
    auth_open_s: float = 3600.0  # bad credentials or no credit: open this long
    max_cooling_s: float = 600.0  # a Retry-After is honoured up to this
    memory_s: float = 600.0  # a breaker untouched this long (and not open) is forgotten


@dataclass(frozen=True)
class ProviderHealth:
    """A provider's circuit breaker as shared by every Lambda through the state store.

    ``open_until_ms`` 0 means closed; in the future, open; in the past, half-open (one trial
    call may go through, held by ``trial_until_ms``). ``cooling_until_ms`` is a throttle
    (``Retry-After``) that skips the provider until then whatever the breaker says.
    """

    name: str
    failures: int = 0
    open_until_ms: int = 0
    cooldown_ms: int = 0
    cooling_until_ms: int = 0
    trial_until_ms: int = 0
    reason: str = ""  # the error kind that last opened or cooled it

    def state(self, now_ms: int) -> BreakerState:
        if self.open_until_ms <= 0:
            return "closed"
        return "open" if self.open_until_ms > now_ms else "half_open"

    def cooling(self, now_ms: int) -> bool:
        return self.cooling_until_ms > now_ms

    def available(self, now_ms: int) -> bool:
        """Worth a call now: not cooling down and not open."""
        return not self.cooling(now_ms) and self.state(now_ms) != "open"

    @property
    def pristine(self) -> bool:
        """Nothing to reset: a success here need not be written to the store."""
        return self.failures == 0 and self.open_until_ms == 0 and self.trial_until_ms == 0


class ProviderBreakers(Protocol):
    """The breakers in the state store; raises ``StoreError``."""

    def health(self, names: Sequence[str]) -> dict[str, ProviderHealth]:
        """The breaker of each named provider, in one call (a fresh, closed one where the store
        holds nothing)."""
        ...

    def claim_trial(self, name: str, now_ms: int, lease_ms: int) -> bool:
        """Take the single trial call of a half-open breaker, atomically: True for exactly one
        caller until the lease ends or an outcome is recorded (True for a closed breaker)."""
        ...

    def record(
        self,
        name: str,
        outcome: BreakerOutcome,
        now_ms: int,
        policy: BreakerPolicy,
        *,
        retry_after: float | None = None,
        kind: str = "",
    ) -> ProviderHealth:
        """Apply one call's outcome (``kind``: the error kind, kept as the reason) to the provider's
        breaker atomically; ``retry_after`` seconds for ``throttled``. Returns the new state."""
        ...


def breaker_outcome(error: ProviderError) -> BreakerOutcome:
    """What a provider error means for that provider's breaker."""
    if error.kind == "content_rejected":
        return "success"  # the provider works: it answered, and said no
    if error.kind == "auth":
        return "auth"
    if error.kind == "bad_request":
        return "neutral"
    if error.kind == "retryable" and error.retry_after is not None and error.retry_after > 0:
        return "throttled"
    return "failure"
