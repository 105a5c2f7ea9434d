"""A cold start while the state store is unreachable: the process starts anyway.

The gallery is served (it lives in the object store), health says 503 in its own shape, and a
generation request gets the contract's 503 ``store_unavailable`` with gallery suggestions; nothing
answers Chalice's own 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.bootstrap import get_container, set_container
from chalicelib.config import get_settings
from tests.local_server import free_port


@pytest.fixture
def cold_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app as a fresh local process builds it, from the environment, with Upstash configured
    at a port where nothing listens."""
    env = {
        "AVATARFLOW_STAGE": "local",
        "AVATARFLOW_DATA_DIR": str(tmp_path),
        "AVATARFLOW_GALLERY_SEED_PER_STYLE": "1",
        "UPSTASH_REDIS_REST_URL": f"http://127.0.0.1:{free_port()}",
        "UPSTASH_REDIS_REST_TOKEN": "token-for-a-store-that-is-not-there",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    set_container(None)
    try:
        with Client(app, stage_name="local") as client:
            yield client
    finally:
        set_container(None)
        get_settings.cache_clear()


def test_every_route_answers_in_the_contracts_shape_when_the_store_is_down_at_start(cold_client: Any) -> None:
    gallery = cold_client.http.get("/v1/gallery?style=anime&limit=2")
    assert gallery.status_code == 200, gallery.body
    assert len(gallery.json_body["items"]) == 1  # one seeded procedural avatar per style
    assert get_container().settings.uses_upstash  # the container was built, from the environment

    health = cold_client.http.get("/v1/health")
    assert health.status_code == 503
    assert health.json_body["status"] == "degraded" and health.json_body["checks"]["store"] == "unavailable"
    assert health.headers["Retry-After"]

    made = cold_client.http.post(
        "/v1/generations", headers={"Content-Type": "application/json"}, body=json.dumps({"style": "anime"})
    )
    assert made.status_code == 503, made.body
    assert made.json_body["error"]["code"] == "store_unavailable"
    assert made.json_body["suggestions"] and made.json_body["suggestions"][0]["style"] == "anime"
    assert made.headers["Retry-After"]
    assert made.headers["Access-Control-Allow-Origin"] == "*"  # CORS on the error too
