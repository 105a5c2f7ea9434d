"""The README's first hour, verbatim, against the real local server (`make run`'s two steps).

Each shell block under "## Your first hour" runs as it is, with only the address changed from
``localhost:8000`` to the test server's; what the README says happens is checked.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_server import server

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
__all__ = ["server"]  # the module-scoped real server, started for this module


def first_hour_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Your first hour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def run(block: str, base: str) -> list[Any]:
    """The block's output as the values it printed: JSON documents (curl prints no newline after
    one), and the other words one by one."""
    script = block.replace("localhost:8000", base.removeprefix("http://"))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    decoder, out, values = json.JSONDecoder(), done.stdout, []
    position = 0
    while position < len(out):
        if out[position].isspace():
            position += 1
        elif out[position] == "{":
            value, position = decoder.raw_decode(out, position)
            values.append(value)
        else:
            word = re.match(r"\S+", out[position:])
            assert word is not None
            values.append(word.group(0))
            position += word.end()
    return values


def test_the_readme_first_hour_works_as_written(server: str) -> None:
    gallery, anonymous, signed_in, photo = first_hour_blocks()

    styles, gallery_page = run(gallery, server)
    assert len(styles["styles"]) >= 8
    assert len(gallery_page["items"]) >= 1

    generation, *codes = run(anonymous, server)
    assert generation["status"] == "succeeded" and "512" in generation["images"]
    assert httpx.get(generation["images"]["512"], timeout=10).headers["content-type"] == "image/webp"
    assert codes == ["200", "200", "429"]  # the fourth anonymous generation of the hour is refused

    premium, quota, history = run(signed_in, server)
    assert premium["size"] == 1024 and premium["status"] in ("succeeded", "queued", "running")
    assert quota["tier"] == "premium"
    assert {w["window"]: w["remaining"] for w in quota["limits"]} == {"hour": 49, "month": 499}
    assert [g["id"] for g in history["items"]] == [premium["id"]]

    sent, upload, made = run(photo, server)
    assert sent == "204"
    assert upload["status"] == "ready" and upload["face"] is not None and upload["error"] is None
    assert made["photo"] == upload["id"] and made["style"] == "anime" and made["cached"] is False
    assert made["status"] in ("succeeded", "queued", "running")
