"""Nothing a client sends can make a 500: every bad input is a 4xx in the contract's error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import auth

LONG_PROMPT = "x" * 10_000

BAD_BODIES: list[tuple[str, bytes | str, int]] = [
    ("not json", b"this is not json", 400),
    ("truncated json", b'{"style": "anime"', 400),
    ("json array", b'["anime"]', 400),
    ("json string", b'"anime"', 400),
    ("json null", b"null", 400),
    ("empty body", b"", 400),
    ("invalid utf-8", b'{"style": "\xff\xfe"}', 400),
    ("deeply nested", b"[" * 30_000 + b"]" * 30_000, 400),
    ("over 64 kB", b"[" * 100_000 + b"]" * 100_000, 413),
    ("missing style", json.dumps({"prompt": "hi"}), 400),
    ("style wrong type", json.dumps({"style": 7}), 400),
    ("style null", json.dumps({"style": None}), 400),
    ("unknown style", json.dumps({"style": "vaporwave"}), 400),
    ("emoji style", json.dumps({"style": "🎨🖌️"}), 400),
    ("rtl style", json.dumps({"style": "أنمي"}), 400),
    ("10 kB prompt", json.dumps({"style": "anime", "prompt": LONG_PROMPT}), 400),
    ("prompt wrong type", json.dumps({"style": "anime", "prompt": ["a"]}), 400),
    ("prompt control chars", json.dumps({"style": "anime", "prompt": "a\u0000b\u001b[31m"}), 400),
    ("negative variation", json.dumps({"style": "anime", "variation": -1}), 400),
    ("variation too big", json.dumps({"style": "anime", "variation": 1000}), 400),
    ("variation as string", json.dumps({"style": "anime", "variation": "3"}), 400),
    ("variation float", json.dumps({"style": "anime", "variation": 1.5}), 400),
    ("variation bool", json.dumps({"style": "anime", "variation": True}), 400),
    ("variation huge int", '{"style": "anime", "variation": 1' + "0" * 400 + "}", 400),
    ("bad size", json.dumps({"style": "anime", "size": 300}), 400),
    ("bad quality", json.dumps({"style": "anime", "quality": "ultra"}), 400),
    ("unknown field", json.dumps({"style": "anime", "colour": "red"}), 400),
    ("emoji key", json.dumps({"style": "anime", "🎨": 1}), 400),
    ("callback not https", json.dumps({"style": "anime", "callback_url": "http://example.com/x"}), 400),
    (
        "callback for non-enterprise",
        json.dumps({"style": "anime", "callback_url": "https://example.com/x"}),
        403,
    ),
    ("huge body", json.dumps({"style": "anime", "prompt": "y" * 100_000}), 413),
]


def assert_error_shape(response: Any, status: int) -> None:
    assert response.status_code == status, response.body[:300]
    body = response.json_body
    assert isinstance(body, dict), response.body[:300]
    assert set(body["error"]) >= {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.body.decode("utf-8", "replace")


@pytest.mark.parametrize(("name", "body", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_generation_bodies_are_4xx(client: Any, name: str, body: bytes | str, status: int) -> None:
    response = client.http.post("/v1/generations", headers=auth(f"bad-{name}"), body=body)
    assert_error_shape(response, status)


def test_field_errors_name_the_field(client: Any) -> None:
    response = client.http.post(
        "/v1/generations", headers=auth(), body=json.dumps({"style": "anime", "variation": -5})
    )
    assert_error_shape(response, 400)
    assert response.json_body["error"]["code"] == "invalid_request"
    assert {"field": "variation"}.items() <= response.json_body["error"]["details"][0].items()


def test_wrong_content_type_is_415(client: Any) -> None:
    response = client.http.post(
        "/v1/generations", headers={"Content-Type": "text/plain"}, body=json.dumps({"style": "anime"})
    )
    assert_error_shape(response, 415)
    assert response.json_body["error"]["code"] == "unsupported_media_type"


def test_wrong_method_is_4xx(client: Any) -> None:
    response = client.http.delete("/v1/styles")
    assert 400 <= response.status_code < 500
    assert "error" in response.json_body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/gallery?limit=0", 400),
        ("/v1/gallery?limit=101", 400),
        ("/v1/gallery?limit=abc", 400),
        ("/v1/gallery?style=nope", 400),
        ("/v1/gallery?cursor=!!!", 400),
        ("/v1/gallery/does-not-exist", 404),
        ("/v1/generations?limit=-1", 400),
        ("/v1/avatars/someone?size=999", 400),
    ],
)
def test_bad_queries_are_4xx(client: Any, path: str, status: int) -> None:
    assert_error_shape(client.http.get(path, headers=auth("query-user")), status)


@pytest.mark.parametrize(
    ("header", "value"),
    [("Prefer", "wait=soon"), ("Idempotency-Key", "k" * 300)],
)
def test_bad_headers_are_400(client: Any, header: str, value: str) -> None:
    response = client.http.post(
        "/v1/generations", headers={**auth("hdr"), header: value}, body=json.dumps({"style": "anime"})
    )
    assert_error_shape(response, 400)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({}),
        json.dumps({"gallery_id": "x", "generation_id": "y"}),
        json.dumps({"gallery_id": 5}),
        json.dumps({"avatar": "x"}),
    ],
)
def test_bad_avatar_bodies_are_4xx(client: Any, body: bytes | str) -> None:
    response = client.http.put("/v1/me/avatar", headers=auth("avatar-bad"), body=body)
    assert_error_shape(response, 400)
