"""Small documents and once-only markers by key (locks, checkpoints, avatars, replay markers)."""

from __future__ import annotations

from typing import Protocol


class KeyValueStore(Protocol):
    """Strings by key, each call one round trip; raises ``StoreError``."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: int | None = None) -> None: ...

    def set_once(self, key: str, value: str, ttl: int) -> bool:
        """SET NX with a TTL: True for exactly one caller while the key lives."""
        ...

    def delete(self, key: str) -> None: ...
