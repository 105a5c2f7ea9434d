"""The pages' real-time client (web/realtime.js), tested on Node's own test runner where Node is
(tests/web/: the tests stay out of the published web/ folder)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_realtime_client_watches_reconnects_and_falls_back_to_polling() -> None:
    run = subprocess.run(
        ["node", "--test", "tests/web/"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout
