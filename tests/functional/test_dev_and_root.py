"""The local stage's user tokens (``POST /v1/dev/token``) and the root answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from chalice.test import Client

from app import app
from chalicelib.bootstrap import build_container, set_container
from tests.conftest import JWT_SECRET, make_settings

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def local_client(tmp_path: Path, store: Any, objects: Any, provider: Any) -> Iterator[Any]:
    container = build_container(
        make_settings(tmp_path, stage="local"), store=store, objects=objects, provider=provider
    )
    set_container(container)
    with Client(app, stage_name="local") as client:
        yield client
    set_container(None)


def test_a_dev_token_acts_as_that_user_and_tier(local_client: Any) -> None:
    issued = local_client.http.post(
        "/v1/dev/token", headers=JSON, body=json.dumps({"sub": "ada", "tier": "premium"})
    )
    assert issued.status_code == 200, issued.body
    token = issued.json_body["token"]
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["tier"]) == ("ada", "premium")
    assert 23 * 3600 < claims["exp"] - time.time() <= 24 * 3600
    assert issued.json_body["expires_at"] == claims["exp"]
    assert issued.headers["Cache-Control"] == "no-store"

    quota = local_client.http.get("/v1/me/quota", headers={"Authorization": f"Bearer {token}"})
    assert quota.status_code == 200 and quota.json_body["tier"] == "premium"
    # what the tier may ask for, so that a page offers only those choices
    assert (quota.json_body["qualities"], quota.json_body["sizes"]) == (["fast", "standard"], [512, 1024])


def test_a_dev_token_request_is_validated(local_client: Any) -> None:
    for body in ({}, {"sub": ""}, {"sub": "x", "tier": "god"}, {"sub": "x", "admin": True}):
        refused = local_client.http.post("/v1/dev/token", headers=JSON, body=json.dumps(body))
        assert refused.status_code == 400, body
        assert refused.json_body["error"]["code"] == "invalid_request"


def test_outside_the_local_stage_there_is_no_dev_token(client: Any) -> None:
    # The shared `client` fixture runs the test stage.
    missing = client.http.post("/v1/dev/token", headers=JSON, body=json.dumps({"sub": "ada"}))
    assert missing.status_code == 404
    assert missing.json_body["error"]["code"] == "not_found"


def test_the_root_is_the_reference_page_and_points_to_the_api(client: Any) -> None:
    page = client.http.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body if isinstance(page.body, bytes) else page.body.encode()
    assert b"<avatarflow-picker" in html and b"/v1/openapi.json" in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    again = client.http.get("/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304


def test_the_dashboard_and_the_page_assets_are_served(client: Any) -> None:
    admin = client.http.get("/admin")
    assert admin.status_code == 200 and admin.headers["Content-Type"].startswith("text/html")
    script = client.http.get("/web/picker.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert client.http.get("/web/picker.css").headers["Content-Type"].startswith("text/css")
    # Only the pages' own files: no tests, no paths, no dotfiles.
    for name in ("realtime.test.mjs", "..%2Fapp.py", ".hidden.js", "nope.js", "index.html"):
        missing = client.http.get(f"/web/{name}")
        assert missing.status_code == 404, name
        assert missing.json_body["error"]["code"] == "not_found"


def test_where_no_page_is_deployed_the_root_says_where_to_start(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from chalicelib.api import pages

    monkeypatch.setattr(pages, "WEB_DIR", tmp_path)  # a deployed Lambda carries no web/ folder
    as_json = client.http.get("/")
    assert as_json.status_code == 200
    assert as_json.json_body["links"]["openapi"] == "/v1/openapi.json"
    assert client.http.get("/admin").status_code == 404


def test_an_edited_page_file_is_served_as_it_now_is(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from chalicelib.api import pages

    monkeypatch.setattr(pages, "WEB_DIR", tmp_path)
    asset = tmp_path / "edited.js"
    asset.write_text("export const v = 1;\n")
    first = client.http.get("/web/edited.js")
    assert first.status_code == 200 and "v = 1" in first.body.decode()
    asset.write_text("export const version = 2;\n")  # the local stage serves the working copy
    second = client.http.get("/web/edited.js")
    assert second.status_code == 200 and "version = 2" in second.body.decode()
    assert second.headers["ETag"] != first.headers["ETag"]
    asset.unlink()
    assert client.http.get("/web/edited.js").status_code == 404
