"""The real local server, started the way `make run` starts it, for the tests that talk to it over
the wire (tests/e2e, tests/browser), `make screenshots` and bench/pages.py: one place that knows
how to prepare the data dir, start `chalice local` on free ports, wait for it and stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHALICE = Path(sys.executable).parent / "chalice"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A local port nothing listens on (bound, then released): for a server to start on, or for a
    client to be refused at."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_env(base: str, data_dir: Path, seed_per_style: int, **extra: str) -> dict[str, str]:
    """The environment of `make run`, with no production setting inherited from the caller's."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AVATARFLOW_", "UPSTASH_", "R2_"))},
        "AVATARFLOW_STAGE": "local",
        "AVATARFLOW_DATA_DIR": str(data_dir),
        "AVATARFLOW_FILES_BASE_URL": f"{base}/v1/files",
        "AVATARFLOW_GALLERY_SEED_PER_STYLE": str(seed_per_style),
        **extra,
    }


def chalice_local(port: int) -> list[str]:
    return [
        str(CHALICE),
        "local",
        "--stage",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-autoreload",
    ]


def prepare(env: Mapping[str, str]) -> None:
    """`make run`'s first step: the data dir and the seeded gallery."""
    subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "prepare"],
        cwd=ROOT,
        env=dict(env),
        check=True,
        capture_output=True,
        timeout=300,
    )


@dataclass(frozen=True)
class LocalServer:
    base: str
    ws_port: int
    data_dir: Path
    log_path: Path


def _health_ok(server: LocalServer) -> bool:
    return httpx.get(f"{server.base}/v1/health", timeout=2).status_code == 200


@contextmanager
def running_local_server(
    data_dir: Path,
    *,
    seed_per_style: int = 2,
    env: Mapping[str, str] | None = None,
    ready: Callable[[LocalServer], bool] = _health_ok,
) -> Iterator[LocalServer]:
    """The local server on free ports, prepared as `make run` does, until the block ends (SIGINT,
    as Ctrl-C: it stops its embedded Redis too). ``ready`` says when it answers; connection errors
    while it starts count as not yet."""
    port, ws_port = free_port(), free_port()
    server = LocalServer(f"http://127.0.0.1:{port}", ws_port, data_dir, data_dir / "server.log")
    full_env = local_env(
        server.base, data_dir, seed_per_style, AVATARFLOW_WS_PORT=str(ws_port), **(env or {})
    )
    prepare(full_env)
    # Its log goes to a file: a pipe nobody reads fills up and then blocks every request.
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            chalice_local(port), cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    if ready(server):
                        break
                except (httpx.TransportError, OSError):
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {server.log_path.read_text()[-3000:]}")
                time.sleep(0.1)
            yield server
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
