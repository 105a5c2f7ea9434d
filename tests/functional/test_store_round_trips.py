"""The hot path of POST /v1/generations is exactly one store script call before dispatch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import build_container, set_container
from chalicelib.ports import StoreError
from tests.conftest import auth, make_settings
from tests.fakes import CountingRedis, RecordingProvider


@pytest.fixture
def counted(tmp_path: Path, redis_server: Any, objects: Any) -> Any:
    from chalice.test import Client

    from app import app

    counter = CountingRedis(RedisPyClient(redis_server))
    store = RedisStateStore(counter, prefix=f"rt-{tmp_path.name}:")
    container = build_container(
        make_settings(tmp_path), store=store, objects=objects, provider=RecordingProvider()
    )
    set_container(container)
    with Client(app, stage_name="local") as client:
        yield client, counter
    set_container(None)


def test_async_request_is_one_script_call(counted: Any) -> None:
    client, counter = counted
    headers = {**auth("rt"), "Prefer": "respond-async"}
    response = client.http.post("/v1/generations", headers=headers, body=json.dumps({"style": "anime"}))
    assert response.status_code == 202
    # The worker thread may already claim and finish the job (and push its progress), and the
    # latency estimates read their histograms from a thread of their own; the request itself
    # (served on this thread by the test client) made one call.
    assert counter.calls_of_this_thread() == ["script:admit"]


def test_cache_hit_is_one_script_call(counted: Any) -> None:
    client, counter = counted
    body = json.dumps({"style": "pixel", "variation": 4})
    assert client.http.post("/v1/generations", headers=auth("rt2"), body=body).status_code == 200
    counter.calls.clear()
    hit = client.http.post("/v1/generations", headers=auth("rt3"), body=body)
    assert hit.json_body["cached"] is True
    assert counter.calls == ["script:admit"]


def test_sync_request_calls_admit_before_anything_else(counted: Any) -> None:
    client, counter = counted
    response = client.http.post("/v1/generations", headers=auth("rt4"), body=json.dumps({"style": "oil"}))
    assert response.status_code == 200
    assert counter.calls[0] == "script:admit"
    # The admit script claims the job for the request, and the finish script's answer is the
    # record: a cache miss made within the request is two round trips, nothing re-read.
    assert counter.calls == ["script:admit", "script:finish"]


def test_store_down_is_503_store_unavailable_and_gallery_still_works(counted: Any, monkeypatch: Any) -> None:
    client, counter = counted

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("connection refused")

    monkeypatch.setattr(counter, "run_script", down)
    monkeypatch.setattr(counter, "command", down)
    response = client.http.post("/v1/generations", headers=auth("rt5"), body=json.dumps({"style": "anime"}))
    assert response.status_code == 503
    assert response.json_body["error"]["code"] == "store_unavailable"
    assert response.headers["Retry-After"] == "5"
    suggestions = response.json_body["suggestions"]
    assert suggestions and suggestions[0]["style"] == "anime"
    assert client.http.get("/v1/gallery?limit=3").status_code == 200
    assert client.http.get("/v1/avatars/somebody").status_code == 302
    assert client.http.get("/v1/health").status_code == 503


def test_health_503_carries_retry_after(counted: Any, monkeypatch: Any) -> None:
    client, counter = counted

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("connection refused")

    monkeypatch.setattr(counter, "run_script", down)
    monkeypatch.setattr(counter, "command", down)
    health = client.http.get("/v1/health")
    assert health.status_code == 503
    assert int(health.headers["Retry-After"]) >= 1
