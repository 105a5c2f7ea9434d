"""The small store ports on Redis: key-value documents, counters and job timers (plain commands)."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.replies import text
from chalicelib.adapters.store.scripts import script
from chalicelib.ports import Counter, StoreError, TimerKind


class RedisKeyValue:
    """:class:`chalicelib.ports.KeyValueStore` on Redis strings."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def get(self, key: str) -> str | None:
        value = self._keys.client.command("GET", self._keys.key(key))
        return None if value is None else text(value)

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        if ttl:
            self._keys.client.command("SET", self._keys.key(key), value, "EX", ttl)
        else:
            self._keys.client.command("SET", self._keys.key(key), value)

    def set_once(self, key: str, value: str, ttl: int) -> bool:
        return bool(
            self._keys.client.command("SET", self._keys.key(key), value, "NX", "EX", max(1, int(ttl)))
        )

    def delete(self, key: str) -> None:
        self._keys.client.command("DEL", self._keys.key(key))


class RedisCounters:
    """:class:`chalicelib.ports.Counters`: one MGET per read."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def quota_counts(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        values = self._keys.client.command("MGET", *(self._keys.key(k) for k in keys))
        return [int(text(v)) if v is not None else 0 for v in values]

    def values(self, keys: Sequence[str]) -> list[float]:
        if not keys:
            return []
        values = self._keys.client.command("MGET", *(self._keys.key(k) for k in keys))
        try:
            return [float(text(v)) if v is not None else 0.0 for v in values]
        except (TypeError, ValueError) as exc:
            raise StoreError("state store holds a counter that is not a number") from exc

    def add(self, counters: Sequence[Counter], *, once: tuple[str, int] | None = None) -> bool:
        if not counters and once is None:
            return True  # nothing to add: no call
        return self._add(counters, once) is not None

    def add_and_read(self, counters: Sequence[Counter]) -> list[float]:
        if not counters:
            return []
        totals = self._add(counters, None)
        if totals is None or len(totals) != len(counters):
            raise StoreError("state store returned an unexpected counters reply")
        return totals

    def _add(self, counters: Sequence[Counter], once: tuple[str, int] | None) -> list[float] | None:
        """counters_add.lua: the new totals, or None where ``once`` had already been added."""
        keys = [self._keys.key(once[0]) if once else ""]
        args: list[str | int | float] = [max(1, int(once[1])) if once else 0]
        for counter in counters:
            keys.append(self._keys.key(counter.key))
            args += [repr(float(counter.amount)), max(0, int(counter.ttl))]
        reply = self._keys.client.run_script(script("counters_add"), keys, args)
        try:
            if int(reply[0]) != 1:
                return None
            return [float(text(total)) for total in reply[1:]]
        except (IndexError, TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected counters reply") from exc


class RedisTimers:
    """:class:`chalicelib.ports.JobTimers` on sorted sets scored by when each is due."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def due(self, timer: TimerKind, now_ms: int, limit: int = 100) -> list[str]:
        reply = self._keys.client.command(
            "ZRANGEBYSCORE", self._keys.timer(timer), "-inf", int(now_ms), "LIMIT", 0, max(1, limit)
        )
        return [text(v) for v in reply or []]

    def due_between(self, timer: TimerKind, from_ms: int, to_ms: int, limit: int = 100) -> list[str]:
        reply = self._keys.client.command(
            "ZREVRANGEBYSCORE", self._keys.timer(timer), int(to_ms), int(from_ms), "LIMIT", 0, max(1, limit)
        )
        return [text(v) for v in reply or []]

    def schedule(self, timer: TimerKind, generation_id: str, at_ms: int | None) -> None:
        if timer == "deadline" and at_ms is not None:
            raise ValueError("deadlines are set when a job is admitted (only a stale one is removed)")
        if at_ms is None:
            self._keys.client.command("ZREM", self._keys.timer(timer), generation_id)
        else:
            self._keys.client.command("ZADD", self._keys.timer(timer), int(at_ms), generation_id)
