"""The providers' circuit breakers as routing reads and writes them, for every path that picks a
provider: the router's failover (a request, a lane worker), the webhook-mode submit and the
health check that decides whether a request may wait for its image.

The breaker state lives in the state store (:class:`chalicelib.ports.ProviderBreakers`), so every
Lambda sees what the others learnt. A store that cannot be reached never fails a generation: the
breakers then read as closed, and the failure to read or write is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from chalicelib.domain.events import ProviderAttempted
from chalicelib.ports import (
    BreakerOutcome,
    BreakerPolicy,
    Clock,
    ProviderBreakers,
    ProviderError,
    ProviderHealth,
    ProviderMisconfigured,
    StoreError,
    breaker_outcome,
)
from chalicelib.services.messagebus import MessageBus

log = logging.getLogger("avatarflow.providers")
alerts = logging.getLogger("avatarflow.alerts")


def publish_attempt(bus: MessageBus | None, attempt: ProviderAttempted) -> None:
    """Log one provider attempt and publish it (the metrics count the failures)."""
    log.info(
        "provider attempt",
        extra={
            "provider": attempt.provider,
            "latency_ms": round(attempt.latency_ms, 1),
            "error_kind": attempt.error_kind,
            "skipped": attempt.skipped,
        },
    )
    if bus is not None:
        bus.publish(attempt)


class Breakers:
    """Reads, trial claims and outcomes of the shared breakers (see the module doc)."""

    def __init__(
        self, store: ProviderBreakers, policy: BreakerPolicy, clock: Clock, *, trial_lease_ms: int = 30_000
    ) -> None:
        self._store = store
        self.policy = policy
        self._clock = clock
        self._trial_lease_ms = trial_lease_ms

    def now_ms(self) -> int:
        return int(self._clock.time() * 1000)

    def health(self, names: Sequence[str]) -> dict[str, ProviderHealth]:
        """The breakers of ``names`` in one store read ({} if it fails: every breaker closed)."""
        if not names:
            return {}
        try:
            return self._store.health(names)
        except StoreError:
            log.warning("provider breakers unreadable; routing as if all were closed", exc_info=True)
            return {}

    def available(self, names: Sequence[str]) -> list[str]:
        """Those of ``names`` whose breaker is neither open nor cooling down, in order."""
        health = self.health(names)
        now_ms = self.now_ms()
        return [n for n in names if health.get(n, ProviderHealth(n)).available(now_ms)]

    def may_try(self, state: ProviderHealth | None) -> bool:
        """False if the breaker read at the start skips this provider anyway (open or cooling)."""
        if state is None:
            return True
        now_ms = self.now_ms()
        return not state.cooling(now_ms) and state.state(now_ms) != "open"

    def skip_reason(self, state: ProviderHealth) -> str | None:
        """Why this provider is skipped now (cooling, open, its half-open trial taken), or None;
        a half-open breaker's single trial is claimed here (one caller across every Lambda)."""
        now_ms = self.now_ms()
        if state.cooling(now_ms):
            return "cooling"
        current = state.state(now_ms)
        if current == "open":
            return "open"
        if current == "half_open":
            try:
                claimed = self._store.claim_trial(state.name, now_ms, self._trial_lease_ms)
            except StoreError:
                log.warning("provider breaker claim failed; trying %s anyway", state.name, exc_info=True)
                return None
            return None if claimed else "trial_taken"
        return None

    def succeeded(self, name: str, before: ProviderHealth) -> None:
        """A success: written only if it changes something (a healthy breaker costs no round trip)."""
        if not before.pristine:
            self._write(name, "success", "")

    def record(self, name: str, before: ProviderHealth, error: ProviderError) -> None:
        """What a failed call means for ``name``'s breaker; an operator alert for bad credentials,
        no credit or a model the vendor says does not exist."""
        outcome = breaker_outcome(error)
        if outcome == "success" and before.pristine:
            return
        if outcome == "neutral" and before.state(self.now_ms()) == "closed":
            return  # nothing to count, no trial to release
        if outcome == "auth":
            self._alert(name, error)
        after = self._write(name, outcome, error.kind, error.retry_after)
        if after is not None and outcome == "failure":
            now_ms = self.now_ms()
            if after.state(now_ms) == "open" and after.open_until_ms != before.open_until_ms:
                log.warning(
                    "circuit breaker of %s opened for %.0f s",
                    name,
                    (after.open_until_ms - now_ms) / 1000,
                    extra={"provider": name, "failures": after.failures, "error_kind": error.kind},
                )

    def _alert(self, name: str, error: ProviderError) -> None:
        if isinstance(error, ProviderMisconfigured):
            alerts.error(
                "image provider %s says the model we ask for does not exist (removed or renamed: "
                "the adapter's model must change); it is skipped for %.0f s",
                name,
                self.policy.auth_open_s,
                extra={
                    "alert": "provider_config",
                    "provider": name,
                    "detail": str(error),
                    "vendor_request_id": error.vendor_request_id,
                },
            )
            return
        alerts.error(
            "image provider %s refused our credentials or has no credit left; it is skipped for %.0f s",
            name,
            self.policy.auth_open_s,
            extra={"alert": "provider_auth", "provider": name, "detail": str(error)},
        )

    def _write(
        self, name: str, outcome: BreakerOutcome, kind: str, retry_after: float | None = None
    ) -> ProviderHealth | None:
        try:
            return self._store.record(
                name, outcome, self.now_ms(), self.policy, retry_after=retry_after, kind=kind
            )
        except StoreError:
            log.warning("could not record the outcome of a call to %s", name, exc_info=True)
            return None
