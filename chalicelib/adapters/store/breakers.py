"""Provider circuit breakers on Redis: one string per provider, changed only by ``breaker.lua``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.replies import ms, text
from chalicelib.adapters.store.scripts import script
from chalicelib.ports import BreakerOutcome, BreakerPolicy, ProviderHealth, StoreError


class RedisBreakers:
    """:class:`chalicelib.ports.ProviderBreakers` on Redis."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def _key(self, name: str) -> str:
        return self._keys.key(f"breaker:{name}")

    def health(self, names: Sequence[str]) -> dict[str, ProviderHealth]:
        if not names:
            return {}
        values = self._keys.client.command("MGET", *(self._key(n) for n in names))
        try:
            return {name: _health(name, value) for name, value in zip(names, values, strict=True)}
        except (TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected breaker reply") from exc

    def claim_trial(self, name: str, now_ms: int, lease_ms: int) -> bool:
        reply = self._keys.client.run_script(
            script("breaker"),
            [self._key(name)],
            ["claim", int(now_ms), int(lease_ms), ms(BreakerPolicy().memory_s)],
        )
        return int(reply) == 1

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
        reply = self._keys.client.run_script(
            script("breaker"),
            [self._key(name)],
            [
                "record",
                int(now_ms),
                outcome,
                ms(retry_after or 0.0),
                policy.failure_threshold,
                ms(policy.cooldown_s),
                ms(policy.max_cooldown_s),
                ms(policy.auth_open_s),
                ms(policy.max_cooling_s),
                ms(policy.memory_s),
                kind or outcome,
            ],
        )
        try:
            return _health(name, reply)
        except (TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected breaker reply") from exc


def _health(name: str, value: Any) -> ProviderHealth:
    """A breaker from its stored form, ``failures|open_until|cooldown|cooling_until|trial_until|
    reason`` (see breaker.lua); a fresh, closed one where the store holds nothing readable."""
    if value is None:
        return ProviderHealth(name)
    parts = text(value).split("|", 5)
    if len(parts) != 6 or not all(p.isdigit() for p in parts[:5]):
        return ProviderHealth(name)
    failures, open_until, cooldown, cooling_until, trial_until = (int(p) for p in parts[:5])
    return ProviderHealth(name, failures, open_until, cooldown, cooling_until, trial_until, parts[5])
