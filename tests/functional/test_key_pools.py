"""Vendor key pools through the HTTP API: ``FAL_KEY=k1,k2,...`` (and the other vendors' key
settings) spread the load over the healthy keys, retire a refused key (with an operator alert that
names its fingerprint, never the key), cool a throttled one, and a malformed pool stops the
start-up naming the setting.

The vendors are stand-ins in their own shapes (respx patches httpx's transport); each fake answers
by the key the request carries, as the real APIs do.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from chalice.test import Client

from app import app
from chalicelib.adapters.key_pool import fingerprint
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from tests.conftest import auth, make_settings
from tests.functional.test_failover import FAL, FAL_SCHNELL, TOGETHER, TOGETHER_IMAGES, fal_ok, together_ok

K1, K2, K3 = (
    "fal-pool-key-one:0123456789abcdef",
    "fal-pool-key-two:0123456789abcdef",
    "fal-pool-key-3:abcdef0123456789",
)
T1, T2 = "together-pool-key-one-0123456789", "together-pool-key-two-0123456789"

Wire = Callable[..., Container]


@pytest.fixture
def vendors() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def wire(tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore) -> Iterator[Wire]:
    def build(**overrides: Any) -> Container:
        settings = make_settings(
            tmp_path,
            **{
                "fal_base_url": FAL,
                "fal_queue_base_url": "https://queue.fal.test",
                "together_base_url": TOGETHER,
                **overrides,
            },
        )
        container = build_container(settings, store=store, objects=objects)
        set_container(container)
        return container

    yield build
    set_container(None)


@pytest.fixture
def client(wire: Wire) -> Iterator[Any]:
    with Client(app, stage_name="local") as test_client:
        yield test_client


def key_of(request: httpx.Request) -> str:
    _scheme, _, key = request.headers["Authorization"].partition(" ")
    return key


class FalByKey:
    """fal's sync endpoint answering by key: ``answers`` maps a key to its response."""

    def __init__(self, answers: dict[str, httpx.Response]) -> None:
        self.answers = answers
        self.used: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = key_of(request)
        self.used[key] += 1
        return self.answers.get(key, fal_ok())


def generate(client: Any, user: str, variation: int) -> dict[str, Any]:
    response = client.http.post(
        "/v1/generations",
        headers=auth(user, "premium"),
        body=json.dumps({"style": "anime", "variation": variation}),
    )
    assert response.status_code == 200, response.body
    body: dict[str, Any] = response.json_body
    return body


def test_load_spreads_across_the_keys_of_the_pool(client: Any, wire: Wire, vendors: respx.MockRouter) -> None:
    wire(fal_key=f"{K1},{K2}, {K3}")  # spaces around a comma are fine
    fal = FalByKey({})
    vendors.post(FAL_SCHNELL).mock(side_effect=fal)
    for variation in range(6):
        assert generate(client, "spread", variation)["provider"] == "fal"
    assert fal.used == {K1: 2, K2: 2, K3: 2}


def test_a_refused_key_is_retired_with_an_alert_and_the_request_still_succeeds_on_fal(
    client: Any, wire: Wire, vendors: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    wire(fal_key=f"{K1},{K2}")
    fal = FalByKey({K1: httpx.Response(401, json={"detail": "Invalid API key"})})
    vendors.post(FAL_SCHNELL).mock(side_effect=fal)
    with caplog.at_level(logging.INFO):
        first = generate(client, "retire", 1)
        assert first["provider"] == "fal"  # the same request went again with the other key
        for variation in range(2, 6):
            assert generate(client, "retire", variation)["provider"] == "fal"
    assert fal.used[K1] == 1  # retired after its one 401: every later call used K2
    assert fal.used[K2] == 5
    retired = [r for r in caplog.records if r.name == "avatarflow.alerts" and r.__dict__.get("alert")]
    assert [r.__dict__["alert"] for r in retired] == ["provider_key_retired"]
    assert retired[0].__dict__["key_fingerprint"] == fingerprint(K1)
    assert retired[0].__dict__["healthy_keys"] == 1
    assert K1 not in caplog.text and K2 not in caplog.text
    assert "0123456789abcdef" not in caplog.text  # not even the secret half of an id:secret key


def test_a_throttled_key_cools_down_while_the_others_serve(
    client: Any, wire: Wire, vendors: respx.MockRouter
) -> None:
    wire(fal_key=f"{K1},{K2}")
    fal = FalByKey(
        {K1: httpx.Response(429, headers={"Retry-After": "60"}, json={"detail": "Too many requests"})}
    )
    vendors.post(FAL_SCHNELL).mock(side_effect=fal)
    together = vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    for variation in range(4):
        assert generate(client, "cool", variation)["provider"] == "fal"
    assert fal.used[K1] == 1 and fal.used[K2] == 4
    assert not together.called  # fal as a whole was never throttled: its breaker was left alone


def test_when_every_key_is_refused_the_vendor_fails_over(
    client: Any, wire: Wire, vendors: respx.MockRouter
) -> None:
    wire(fal_key=f"{K1},{K2}", together_api_key=T1)
    refused = httpx.Response(403, json={"detail": "User is locked. Reason: Exhausted balance."})
    fal = FalByKey({K1: refused, K2: refused})
    vendors.post(FAL_SCHNELL).mock(side_effect=fal)
    vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    assert generate(client, "all-refused", 1)["provider"] == "together"
    assert fal.used == {K1: 1, K2: 1}
    assert generate(client, "all-refused", 2)["provider"] == "together"
    assert fal.used == {K1: 1, K2: 1}  # fal's breaker is open (auth): not called again


def test_the_other_vendors_pool_their_keys_the_same_way(
    client: Any, wire: Wire, vendors: respx.MockRouter
) -> None:
    wire(together_api_key=f"{T1},{T2}")
    used: Counter[str] = Counter()

    def together(request: httpx.Request) -> httpx.Response:
        used[key_of(request)] += 1
        if key_of(request) == T1:
            return httpx.Response(
                401, json={"error": {"message": "Invalid API key provided", "type": "invalid_request_error"}}
            )
        return together_ok()

    vendors.post(TOGETHER_IMAGES).mock(side_effect=together)
    for variation in range(3):
        assert generate(client, "together-pool", variation)["provider"] == "together"
    assert used == {T1: 1, T2: 3}


@pytest.mark.parametrize(
    ("setting", "field", "value", "reason"),
    [
        ("FAL_KEY", "fal_key", f"{K1},,{K2}", "key 2 of 3 is empty"),
        ("FAL_KEY", "fal_key", f"{K1},", "key 2 of 2 is empty"),
        ("FAL_KEY", "fal_key", f"{K1},{K1}", "repeats"),
        ("REPLICATE_API_TOKEN", "replicate_api_token", "r8_one two", "spaces"),
        ("OPENAI_API_KEY", "openai_api_key", " , ", "holds no key"),
    ],
)
def test_a_malformed_pool_stops_the_start_up_naming_the_setting(
    wire: Wire, setting: str, field: str, value: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        wire(**{field: value})
    assert setting in str(refused.value)
    assert K1 not in str(refused.value) and "r8_one" not in str(refused.value)
