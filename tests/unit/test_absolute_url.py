"""``Location`` and other links are absolute URLs that work behind API Gateway's stage prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Request

from chalicelib.api.http import absolute_url
from chalicelib.bootstrap import Container, build_container, set_container
from tests.conftest import make_settings


def request(
    path: str, *, stage_path: str | None = None, headers: dict[str, str] | None = None, **context: Any
) -> Request:
    event = {
        "httpMethod": "POST",
        "path": path,
        "headers": headers or {},
        "multiValueQueryStringParameters": None,
        "pathParameters": {},
        "stageVariables": {},
        "body": None,
        "requestContext": {"httpMethod": "POST", "resourcePath": path, "path": stage_path or path, **context},
    }
    return Request(event)


@pytest.fixture
def public_url_container(tmp_path: Path, store: Any, objects: Any) -> Iterator[Container]:
    container = build_container(
        make_settings(tmp_path, public_url="https://api.example.com/"),
        store=store,
        objects=objects,
        start_workers=False,
    )
    set_container(container)
    yield container
    set_container(None)


def test_behind_api_gateway_the_stage_prefix_and_https_are_kept(container: Container) -> None:
    behind_gateway = request(
        "/v1/generations",
        stage_path="/v1api/v1/generations",
        headers={"host": "abc123.execute-api.eu-west-1.amazonaws.com"},
        domainName="abc123.execute-api.eu-west-1.amazonaws.com",
        stage="v1api",
    )
    assert absolute_url(behind_gateway, "/v1/generations/gen_1") == (
        "https://abc123.execute-api.eu-west-1.amazonaws.com/v1api/v1/generations/gen_1"
    )


def test_locally_the_host_and_scheme_of_the_request(container: Container) -> None:
    local = request("/v1/batches", headers={"host": "127.0.0.1:8765"})
    assert absolute_url(local, "/v1/batches/bat_1") == "http://127.0.0.1:8765/v1/batches/bat_1"
    proxied = request("/v1/batches", headers={"host": "avatars.example.org", "x-forwarded-proto": "https"})
    assert absolute_url(proxied, "/v1/batches/bat_1") == "https://avatars.example.org/v1/batches/bat_1"


def test_the_configured_public_url_wins(public_url_container: Container) -> None:
    anywhere = request(
        "/v1/generations", stage_path="/v1api/v1/generations", headers={"host": "internal:8000"}
    )
    assert absolute_url(anywhere, "/v1/generations/gen_2") == "https://api.example.com/v1/generations/gen_2"
