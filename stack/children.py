"""One process of the stack (a "child" of the supervisor): what it runs, starting it, knowing when
it is ready.

A child is ready when it prints its ``STACK-READY {...}`` line (``stack.processes.READY``; the JSON
is its ``info``: its URLs and ports) or, for a process that prints none (redis-server), once its
probe answers. Its output goes to its own log file.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stack.declarations import ROOT
from stack.processes import READY, die_with_parent

READY_TIMEOUT_S = 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    # For a process that prints no STACK-READY line (redis-server): ready once this answers True.
    probe: Callable[[], bool] | None = None
    # What the supervisor learns while it runs the process: state, not how it is made.
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    info: dict[str, Any] = field(default_factory=dict, init=False)
    ready: threading.Event = field(default_factory=threading.Event, init=False)
    restarts: int = field(default=0, init=False)
    crashes: list[float] = field(default_factory=list, init=False)
    restart_at: float | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


def _probe(child: Child, process: subprocess.Popen[bytes]) -> None:
    """Set ``child.ready`` once its probe answers, unless the process exits first."""
    assert child.probe is not None  # noqa: S101 - only started for a child with a probe
    while process.poll() is None and child.process is process:
        if child.probe():
            child.ready.set()
            return
        time.sleep(0.05)


def _pump(child: Child, stream: IO[bytes], log: IO[bytes]) -> None:
    """Copy a child's output to its log; pick its STACK-READY line on the way."""
    for line in iter(stream.readline, b""):
        if line.startswith(READY) and not child.ready.is_set():
            child.info = json.loads(line[len(READY) :])
            child.ready.set()
        log.write(line)
        log.flush()
    log.close()


def spawn(child: Child, env: dict[str, str]) -> None:
    """Start ``child``'s process (again), its output pumped to its log, its readiness watched."""
    log = child.log_path.open("ab")
    child.ready.clear()
    child.process = subprocess.Popen(  # noqa: S603 - our own modules
        child.argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only ctypes.prctl runs before exec
    )
    child.started_at = time.monotonic()
    assert child.process.stdout is not None  # noqa: S101 - stdout=PIPE
    threading.Thread(target=_pump, args=(child, child.process.stdout, log), daemon=True).start()
    if child.probe is not None:
        threading.Thread(target=_probe, args=(child, child.process), daemon=True).start()


def pin(child: Child, **ports: str) -> None:
    """Start ``child`` again on the ports it has now (``--port`` from its URL, ...): the app
    was given those URLs."""
    for option, url in ports.items():
        child.argv += [f"--{option.replace('_', '-')}", str(urllib.parse.urlsplit(url).port)]


def wait_ready(*children: Child, timeout: float = READY_TIMEOUT_S) -> None:
    """Return once every child is ready; raise ``RuntimeError`` if one exits or the time is up."""
    deadline = time.monotonic() + timeout
    for child in children:
        while not child.ready.wait(0.1):
            if child.process is not None and child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited at start; see {child.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} did not start in {timeout} s; see {child.log_path}")
