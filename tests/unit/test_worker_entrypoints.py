"""The lane and scheduled functions' Lambda entry points (their handler strings) set up logging."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stack.declarations import read_declarations

PROBE = """
import importlib, json, logging, sys
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module), name)
logger = logging.getLogger("chalicelib")
print(json.dumps({
    "app_imported": "app" in sys.modules,
    "level": logger.getEffectiveLevel(),
    "formatters": [type(h.formatter).__name__ for h in logger.handlers],
    "callable": callable(handler),
}))
"""


def handler_strings() -> list[str]:
    declarations = read_declarations()
    return [lane.handler for lane in declarations.lanes] + [s.handler for s in declarations.schedules]


@pytest.mark.parametrize("handler", ["chalicelib.workers.lanes.lane_free", "chalicelib.workers.reaper.reap"])
def test_a_worker_function_imported_alone_logs_json_at_info(handler: str) -> None:
    # Lambda imports the handler's module in a fresh interpreter, never app.py.
    assert handler in handler_strings()
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, handler],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"AVATARFLOW_STAGE": "dev", "PATH": "/usr/bin:/bin"},
    )
    found = json.loads(probe.stdout)
    assert found == {"app_imported": False, "level": 20, "formatters": ["JsonFormatter"], "callable": True}
