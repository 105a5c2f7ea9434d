"""The gallery-only export opens in Chromium from a plain static file server and an avatar can be
picked, with no request to any API (no /v1 at all)."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.stack import ROOT

pytestmark = pytest.mark.e2e


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m chalicelib.cli gallery export --out DIR`` on a fresh local stage."""
    data = tmp_path_factory.mktemp("gallery-data")
    out = tmp_path_factory.mktemp("gallery-site")
    env = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith(("AVATARFLOW_", "R2_", "S3_", "UPSTASH_"))
        },
        "AVATARFLOW_STAGE": "local",
        "AVATARFLOW_DATA_DIR": str(data),
        "AVATARFLOW_GALLERY_SEED_PER_STYLE": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "gallery", "export", "--out", str(out)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "gallery site:" in done.stdout
    return out


@pytest.fixture
def static_site(exported: Path) -> Iterator[str]:
    """A plain static file server (http.server) over the export, on a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(exported)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_static_gallery_picks_an_avatar_without_any_api_call(browser: Browser, static_site: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(static_site + "/")
        gallery = page.get_by_role("list", name="Gallery")
        first = gallery.get_by_role("button").first
        expect(first).to_be_visible()
        expect(page.get_by_role("region", name="Custom avatar")).to_be_hidden()  # no AI in this mode
        page.get_by_label("Gallery style").select_option(index=1)  # the styles come from the index too
        expect(first).to_be_visible()
        first.click()
        expect(first).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#profile-avatar")).to_have_attribute("src", re.compile(r"/images/"))
        expect(page.locator("#who")).to_contain_text("kept in this browser")
        page.reload()  # the choice is kept in the browser
        expect(page.locator("#profile-avatar")).to_have_attribute("src", re.compile(r"/images/"))
    finally:
        context.close()
    assert errors == []
    assert [url for url in requests if "/v1" in url] == []
    assert [url for url in requests if not url.startswith((static_site, "data:"))] == []
    assert any(url.endswith("/gallery.json") for url in requests)
