"""Waiting on processes without sleeping: a pidfd for an exit, a pipe for a readiness line."""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from typing import IO


def exited(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``pid`` to exit; True once it has (a zombie has exited too).

    A pidfd becomes readable when its process exits, child of ours or not: the embedded
    redis-server is a daemon, the child of nobody here."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def kill_if_running(pid: int) -> None:
    """Clean up after a test that failed to stop a process it started."""
    if pid and not exited(pid, 0):
        os.kill(pid, signal.SIGKILL)
        exited(pid, 5)


def read_until(stream: IO[bytes], marker: bytes, timeout: float) -> bytes:
    """What ``stream`` (a child's pipe) says up to the end of the first line with ``marker``.

    Raises ``TimeoutError`` past ``timeout`` and ``EOFError`` if the child closes it first."""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    seen = b""
    while True:
        at = seen.find(marker)
        end = seen.find(b"\n", at) if at >= 0 else -1
        if end >= 0:
            return seen[: end + 1]
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError(f"no {marker!r} within {timeout} s; got {seen[-2000:]!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError(f"the process ended before {marker!r}; got {seen[-2000:]!r}")
        seen += chunk


def drain(stream: IO[bytes], into: IO[bytes] | None = None) -> None:
    """Keep reading a child's pipe until it closes, so that its writes never block on a full pipe;
    what it says goes to ``into`` where given."""

    def read() -> None:
        while chunk := os.read(stream.fileno(), 65536):
            if into is not None:
                into.write(chunk)
                into.flush()
        if into is not None:
            into.close()

    threading.Thread(target=read, name="drain", daemon=True).start()


# -- the stack's children ------------------------------------------------------------------------

READY = b"STACK-READY "  # a child's first line of this kind: "STACK-READY {json}" once it serves


def announce_ready(**info: object) -> None:
    """What a child of the stack prints once it serves (its ports), read by the supervisor."""
    import json
    import sys

    sys.stdout.write(READY.decode() + json.dumps(info) + "\n")
    sys.stdout.flush()


def die_with_parent() -> None:
    """In a child, before exec: the kernel sends it SIGKILL when the process that started it dies
    (Linux ``PR_SET_PDEATHSIG``), so that a supervisor killed with -9 leaves nothing behind."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
