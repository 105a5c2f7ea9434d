""":class:`chalicelib.ports.analytics.EventCounters` on Redis: ``events_add.lua``, one call."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.scripts import script
from chalicelib.ports import Counter, StoreError
from chalicelib.ports.analytics import RateVerdict, RateWindow


class RedisEventCounters:
    """The funnel's counters, added within the general request rate in one script call."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def add_within_rate(self, rate: RateWindow, counters: Sequence[Counter]) -> RateVerdict:
        keys = [self._keys.key(rate.key), *(self._keys.key(c.key) for c in counters)]
        args: list[str | int | float] = [int(rate.limit), int(rate.reset_at)]
        for counter in counters:
            args += [int(counter.amount), max(1, int(counter.ttl))]
        reply = self._keys.client.run_script(script("events_add"), keys, args)
        try:
            allowed, count = (int(value) for value in reply)
        except (TypeError, ValueError) as exc:
            raise StoreError("events_add answered an unexpected reply") from exc
        return RateVerdict(allowed=allowed == 1, count=count)
