"""The admin audit trail on Redis: a sorted set of JSON events scored by a sequence number."""

from __future__ import annotations

from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.replies import text
from chalicelib.adapters.store.scripts import script


class RedisAuditLog:
    """:class:`chalicelib.ports.AuditLog`: one script call to append, one command per page."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def append(self, event_json: str, keep: int) -> int:
        reply = self._keys.client.run_script(
            script("audit_append"),
            [self._keys.key("audit:seq"), self._keys.key("audit:events")],
            [event_json, keep],
        )
        return int(reply)

    def page(self, limit: int, before: int | None) -> list[str]:
        high = f"({before}" if before is not None else "+inf"
        reply = self._keys.client.command(
            "ZREVRANGEBYSCORE", self._keys.key("audit:events"), high, "-inf", "LIMIT", 0, max(1, limit)
        )
        return [text(v) for v in reply or []]
