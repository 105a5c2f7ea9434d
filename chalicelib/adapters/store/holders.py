"""Image holders on Redis: a set of holders per object key (``holders:<object key>``)."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.scripts import script


class RedisImageHolders:
    """:class:`chalicelib.ports.ImageHolders` on Redis sets (the scripts write the same sets)."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def _set(self, object_key: str) -> str:
        return self._keys.holders_prefix + object_key

    def hold(self, object_keys: Sequence[str], holder: str) -> None:
        if object_keys:
            # One SADD per key would be one round trip each: a tiny script does them all at once.
            self._keys.client.run_script(script("hold"), [self._set(k) for k in object_keys], [holder])

    def release(self, object_keys: Sequence[str], holder: str) -> list[str]:
        if not object_keys:
            return []
        reply = self._keys.client.run_script(
            script("release_holder"), [self._set(k) for k in object_keys], [holder]
        )
        return [object_keys[int(i) - 1] for i in reply or []]

    def unheld(self, object_keys: Sequence[str]) -> list[str]:
        if not object_keys:
            return []
        reply = self._keys.client.run_script(script("unheld"), [self._set(k) for k in object_keys], [])
        return [object_keys[int(i) - 1] for i in reply or []]
