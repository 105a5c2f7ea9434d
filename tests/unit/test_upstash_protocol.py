"""The Upstash REST protocol as the adapter speaks it, against httpx.MockTransport answering as
Upstash does (base64 bulk strings, ``{"error": ...}`` with 400, ``Upstash-Sync-Token``)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.ports import StoreError

URL = "https://eu1-example.upstash.io"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Upstash:
    """Answers each request with the next prepared reply, and keeps what it was sent."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.replies.pop(0)

    def sent(self, index: int) -> Any:
        return json.loads(self.requests[index].content)


def client(upstash: Upstash, **kwargs: Any) -> UpstashClient:
    return UpstashClient(URL, "secret-token", transport=httpx.MockTransport(upstash), **kwargs)


def test_a_command_is_a_json_array_and_bulk_strings_come_back_decoded() -> None:
    upstash = Upstash(
        httpx.Response(200, json={"result": [b64("päivää"), None, 3, [b64("a"), b64("b")]]}),
        httpx.Response(200, json={"result": [b64("f"), b64("1"), b64("g"), b64("2")]}),
        httpx.Response(200, json={"result": "OK"}),
        httpx.Response(200, json={"result": None}),
    )
    store = client(upstash)
    assert store.command("EVAL", "return 1", 0) == ["päivää", None, 3, ["a", "b"]]
    assert upstash.sent(0) == ["EVAL", "return 1", "0"]
    request = upstash.requests[0]
    assert request.headers["Authorization"] == "Bearer secret-token"
    assert request.headers["Upstash-Encoding"] == "base64"
    assert str(request.url) == URL
    assert store.command("HGETALL", "h") == {"f": "1", "g": "2"}  # redis-py's shape
    assert store.command("SET", "k", "v") is True
    assert store.command("SET", "k", "v", "NX", "EX", 5) is None  # NX refused it


def test_the_sync_token_of_a_reply_goes_with_the_next_request() -> None:
    upstash = Upstash(
        httpx.Response(200, json={"result": "OK"}, headers={"Upstash-Sync-Token": "token-1"}),
        httpx.Response(200, json={"result": b64("v")}),
    )
    store = client(upstash)
    store.command("SET", "k", "v")
    assert "upstash-sync-token" not in upstash.requests[0].headers
    assert store.command("GET", "k") == "v"
    assert upstash.requests[1].headers["Upstash-Sync-Token"] == "token-1"


def test_without_read_your_writes_no_sync_token_is_sent() -> None:
    upstash = Upstash(
        httpx.Response(200, json={"result": "OK"}, headers={"Upstash-Sync-Token": "token-1"}),
        httpx.Response(200, json={"result": b64("v")}),
    )
    store = client(upstash, read_your_writes=False)
    store.command("SET", "k", "v")
    store.command("GET", "k")
    assert "upstash-sync-token" not in upstash.requests[1].headers


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (httpx.Response(400, json={"error": "ERR wrong number of arguments"}), "error reply: ERR wrong"),
        (httpx.Response(200, json=["not", "an", "object"]), "malformed reply"),
        (httpx.Response(200, json={"result": {"a": 1}}), "malformed reply"),
        (httpx.Response(200, json={"nothing": 1}), "malformed reply"),
        (httpx.Response(200, text="<html>proxy</html>"), "malformed reply"),
        (httpx.Response(200, json={"result": "not base64!"}), "malformed reply"),
        (httpx.Response(401, json={"error": "Unauthorized"}), "HTTP 401"),
        (httpx.Response(502, text="bad gateway"), "HTTP 502"),
    ],
)
def test_every_bad_answer_is_a_store_error_without_the_token(reply: httpx.Response, message: str) -> None:
    store = client(Upstash(reply))
    with pytest.raises(StoreError, match=message) as raised:
        store.command("SET", "k", "v")
    assert "secret-token" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is None
