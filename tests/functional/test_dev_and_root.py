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


def test_the_root_points_to_the_api(client: Any) -> None:
    as_json = client.http.get("/")
    assert as_json.status_code == 200
    assert as_json.json_body["links"]["openapi"] == "/v1/openapi.json"
    page = client.http.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b"/v1/openapi.json" in (page.body if isinstance(page.body, bytes) else page.body.encode())
