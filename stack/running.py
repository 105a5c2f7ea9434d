"""The stack as a child of a test or a benchmark: start it, read its state, crash its parts, stop it.

``running_stack(*args)`` starts ``python -m stack *args`` in its own session (process group),
waits until it is up and yields a :class:`RunningStack`; on exit it sends SIGTERM to the supervisor
and records the pids still alive afterwards (``leftovers``: none is the expected answer).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack.declarations import ROOT
from stack.processes import drain, exited, read_until

UP_TIMEOUT_S = 300.0  # the gallery is seeded before the stack is up (minutes on a busy machine)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped, is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    state_file: Path
    seen_pids: set[int] = field(default_factory=set)
    leftovers: list[int] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.state_file.read_text())
        self.seen_pids.update(p["pid"] for p in doc["processes"] if p["pid"])
        redis_pid = doc["upstash"].get("redis_pid")
        if redis_pid:
            self.seen_pids.add(int(redis_pid))
        return doc

    def process_info(self, name: str) -> dict[str, Any]:
        return next(p for p in self.state()["processes"] if p["name"] == name)

    def names(self, prefix: str) -> list[str]:
        return [p["name"] for p in self.state()["processes"] if p["name"].startswith(prefix)]

    def crash(self, name: str) -> int:
        """SIGKILL one process of the stack (a container dying); returns its pid. A process that
        has just died on its own (a lane worker past its function's timeout) is killed once the
        supervisor has it running again."""
        deadline = time.monotonic() + UP_TIMEOUT_S
        while True:
            info = self.process_info(name)
            pid = int(info["pid"] or 0)
            try:
                if pid and info["ready"]:
                    os.kill(pid, signal.SIGKILL)
                    return pid
            except ProcessLookupError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} was not running to be killed within {UP_TIMEOUT_S} s")
            time.sleep(0.1)

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60.0) -> float:
        """Seconds until the supervisor has ``name`` running again under a new pid."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            info = self.process_info(name)
            if info["pid"] != old_pid and info["ready"]:
                return time.monotonic() - started
            time.sleep(0.1)
        raise TimeoutError(f"{name} was not started again within {timeout} s")


@contextmanager
def running_stack(*args: str, keep_logs: bool = False) -> Iterator[RunningStack]:
    """The stack, up; its directory (logs, data) is removed afterwards unless ``keep_logs``."""
    state_dir = Path(tempfile.mkdtemp(prefix="avatarflow-stack-"))
    state_file = state_dir / "state.json"
    process = subprocess.Popen(  # noqa: S603 - our own module
        [
            sys.executable,
            "-m",
            "stack",
            "--state-file",
            str(state_file),
            "--dir",
            str(state_dir / "stack"),
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: one killpg stops everything it started
    )
    assert process.stdout is not None  # noqa: S101 - stdout=PIPE
    stack = RunningStack(process, state_file)
    try:
        try:
            read_until(process.stdout, b"STACK-UP", UP_TIMEOUT_S)
        except (TimeoutError, EOFError) as exc:
            raise RuntimeError(f"the stack did not come up: {exc}") from None
        drain(process.stdout, (state_dir / "supervisor.log").open("ab"))  # its restarts, for a look
        stack.state()
        yield stack
    finally:
        with suppress(OSError, ValueError, KeyError):
            stack.state()  # the last pids, restarted ones included
        with suppress(OSError):
            process.send_signal(signal.SIGTERM)
        if not exited(process.pid, 30):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 5
        while True:
            stack.leftovers = sorted(pid for pid in stack.seen_pids if pid_alive(pid))
            if not stack.leftovers or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        with suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)  # a test that failed still leaves nothing behind
        if not keep_logs:
            shutil.rmtree(state_dir, ignore_errors=True)
