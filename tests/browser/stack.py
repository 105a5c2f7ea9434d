"""The local stack the browser tests, `make screenshots` and bench/first_paint.py drive: the local
server as `make run` starts it (embedded defaults, a slow stand-in renderer so that progress can be
seen) and Debian's Chromium through Playwright (never Playwright's own browser download)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.local_server import ROOT, running_local_server

__all__ = ["ADMIN_TOKEN", "AXE", "CHROMIUM", "CHROMIUM_ARGS", "ROOT", "Stack", "local_stack"]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The machine's network is closed: without these Chromium waits on connections it cannot make.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "browser-tests-admin-token"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@dataclass(frozen=True)
class Stack:
    base: str
    ws_port: int
    data_dir: Path


@contextmanager
def local_stack(data_dir: Path, *, delay_s: float = 2.0, seed_per_style: int = 2) -> Iterator[Stack]:
    """The local server on free ports, prepared as `make run` does, with a slow stand-in renderer."""
    env = {
        "AVATARFLOW_PROCEDURAL_DELAY_SECONDS": str(delay_s),
        "AVATARFLOW_ADMIN_TOKEN": ADMIN_TOKEN,
        "AVATARFLOW_WARM_START": "1",
    }
    with running_local_server(data_dir, seed_per_style=seed_per_style, env=env) as server:
        yield Stack(server.base, server.ws_port, data_dir)
