"""The local stack the browser tests, `make screenshots` and bench/first_paint.py drive: the local
server as `make run` starts it (embedded defaults, a slow stand-in renderer so that progress can be
seen) and Debian's Chromium through Playwright (never Playwright's own browser download)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.test_local_server import CHALICE, ROOT, free_port

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
    """The local server on free ports, prepared as `make run` does; stopped (SIGINT) on exit."""
    port, ws_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AVATARFLOW_", "UPSTASH_", "R2_"))},
        "AVATARFLOW_STAGE": "local",
        "AVATARFLOW_DATA_DIR": str(data_dir),
        "AVATARFLOW_FILES_BASE_URL": f"{base}/v1/files",
        "AVATARFLOW_GALLERY_SEED_PER_STYLE": str(seed_per_style),
        "AVATARFLOW_WS_PORT": str(ws_port),
        "AVATARFLOW_PROCEDURAL_DELAY_SECONDS": str(delay_s),
        "AVATARFLOW_ADMIN_TOKEN": ADMIN_TOKEN,
        "AVATARFLOW_WARM_START": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "prepare"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    command = [str(CHALICE), "local", "--stage", "local", "--host", "127.0.0.1", "--port", str(port)]
    # Its log goes to a file: a pipe nobody reads fills up and then blocks every request.
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [*command, "--no-autoreload"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield Stack(base, ws_port, data_dir)
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C in `make run`: it stops its embedded Redis too
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
