"""Whether some provider can serve a quality right now, for the sync-or-async decision."""

from __future__ import annotations

from chalicelib.ports import BreakerPolicy, Clock, ImageProvider, ProviderBreakers
from chalicelib.services.routing.breakers import Breakers


class ProviderHealthCheck:
    """Reads the shared circuit breakers of a quality's candidates (breaker not open, not cooling
    down) the way the router does (``services/routing/breakers.py``), keeping the answer ``ttl_s``
    per container: one store read every few seconds at most."""

    def __init__(
        self, breakers: ProviderBreakers, provider: ImageProvider, *, clock: Clock, ttl_s: float = 5.0
    ) -> None:
        self._breakers = Breakers(breakers, BreakerPolicy(), clock)  # read only: no policy applies
        self._provider = provider
        self._clock = clock
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, bool]] = {}

    def __call__(self, quality: str) -> bool:
        cached = self._cache.get(quality)
        now = self._clock.monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        names = [p.name for p in self._provider.candidates(quality)]
        tracked = set(self._provider.vendors)
        if not names or any(name not in tracked for name in names):
            healthy = True  # nothing to route (the call answers why), or an untracked fallback
        else:
            healthy = bool(self._breakers.available(names))
        self._cache[quality] = (now, healthy)
        return healthy
