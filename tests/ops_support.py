"""Helpers for the operations tests: the app wired with an operator token, and raw store dumps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chalicelib.bootstrap import Container, build_container, set_container
from tests.conftest import make_settings

ADMIN_TOKEN = "op-admin-token-7f3a9c1e5b2d4f6a8c0e"
JSON = {"Content-Type": "application/json"}


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}", **JSON}


def key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key, **JSON}


@contextmanager
def operated_app(
    tmp_path: Path, store: Any, objects: Any, provider: Any, **settings: Any
) -> Iterator[tuple[Any, Container]]:
    """A chalice test client on a container whose settings carry the operator's token."""
    from chalice.test import Client

    from app import app

    container = build_container(
        make_settings(tmp_path, admin_token=ADMIN_TOKEN, **settings),
        store=store,
        objects=objects,
        provider=provider,
    )
    set_container(container)
    try:
        with Client(app, stage_name="local") as client:
            yield client, container
    finally:
        set_container(None)


def issue_key(client: Any, name: str = "acme", **body: Any) -> dict[str, Any]:
    response = client.http.post(
        "/v1/admin/api-keys", headers=admin_headers(), body=json.dumps({"name": name, **body})
    )
    assert response.status_code == 201, response.body
    issued: dict[str, Any] = response.json_body
    return issued


def raw_store_text(redis: Any, prefix: str) -> str:
    """Every key and value under ``prefix`` in the raw Redis, as one text."""
    lines = []
    for key in redis.scan_iter(match=prefix + "*", count=1000):
        kind = redis.type(key)
        if kind == "string":
            value: Any = redis.get(key)
        elif kind == "hash":
            value = redis.hgetall(key)
        elif kind == "zset":
            value = redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = redis.lrange(key, 0, -1)
        elif kind == "set":
            value = redis.smembers(key)
        else:
            value = kind
        lines.append(f"{key} = {value}")
    return "\n".join(lines)
