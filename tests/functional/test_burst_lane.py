"""RunPod as the burst lane, through the HTTP API with stand-in vendors in their own shapes.

fal (the primary of ``fast``), Together (its first failover) and a RunPod serverless endpoint are
mocked with respx. The router's time is the container's FakeClock: a fal call "takes 10 s" by
moving that clock on, so that saturation by latency is exact and instant. Without a burst lane a
saturated fal would be followed by Together (the route's order); with it, new work goes to RunPod
first until fal recovers, and only while the spend guard allows.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
import respx
from chalice.test import Client

from app import app
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from chalicelib.config import Settings
from tests.conftest import auth, make_settings
from tests.fakes import FakeClock
from tests.functional.test_failover import FAL, FAL_SCHNELL, TOGETHER, TOGETHER_IMAGES, fal_ok, together_ok
from tests.unit.providers.helpers import png_bytes

RUNPOD = "https://runpod.test"
ENDPOINT = "flux-burst-ep1"
RUNSYNC = f"{RUNPOD}/v2/{ENDPOINT}/runsync"
SLOW_S = 10.0

Wire = Callable[..., Container]


def runpod_done() -> httpx.Response:
    image = "data:image/png;base64," + base64.b64encode(png_bytes(64, (200, 120, 10))).decode()
    return httpx.Response(
        200,
        json={
            "id": "sync-5b1c-4f2a",
            "status": "COMPLETED",
            "delayTime": 120,
            "executionTime": 1400,
            "output": {"images": [image]},
        },
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def vendors() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def wire(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore, clock: FakeClock
) -> Iterator[Wire]:
    def build(**overrides: Any) -> Container:
        settings = make_settings(
            tmp_path,
            **{
                "fal_key": "fal-burst-key:0123456789abcdef",
                "together_api_key": "together-burst-key-0123456789",
                "runpod_api_key": "rpa_burst_key_0123456789",
                "runpod_endpoint_id": ENDPOINT,
                "fal_base_url": FAL,
                "fal_queue_base_url": "https://queue.fal.test",
                "together_base_url": TOGETHER,
                "runpod_base_url": RUNPOD,
                "provider_prices": json.dumps({"runpod": {"*": 0.002}}),
                "burst_latency_seconds": 5.0,
                "burst_hold_seconds": 60.0,
                "provider_deadline_seconds": 60.0,  # room for a fal call that "takes" 10 s
                **overrides,
            },
        )
        container = build_container(settings, store=store, objects=objects, clock=clock)
        set_container(container)
        return container

    yield build
    set_container(None)


@pytest.fixture
def client(wire: Wire) -> Iterator[Any]:
    with Client(app, stage_name="local") as test_client:
        yield test_client


def slow_fal(clock: FakeClock) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        clock.advance(SLOW_S)  # the call "took" 10 s
        return fal_ok()

    return answer


def provider_of(client: Any, user: str, variation: int) -> str:
    response = client.http.post(
        "/v1/generations",
        headers=auth(user, "premium"),
        body=json.dumps({"style": "anime", "variation": variation}),
    )
    assert response.status_code == 200, response.body
    provider: str = response.json_body["provider"]
    return provider


def test_a_slow_primary_sends_new_work_to_runpod_until_it_recovers(
    client: Any, wire: Wire, vendors: respx.MockRouter, clock: FakeClock
) -> None:
    wire()
    fal = vendors.post(FAL_SCHNELL).mock(side_effect=slow_fal(clock))
    runpod = vendors.post(RUNSYNC).mock(return_value=runpod_done())
    together = vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())

    assert [provider_of(client, "burst", n) for n in range(3)] == ["fal"] * 3  # 3 slow calls: saturated
    assert [provider_of(client, "burst", n) for n in range(3, 6)] == ["runpod"] * 3
    assert fal.call_count == 3 and runpod.call_count == 3
    assert not together.called  # the burst lane, not the route's failover order

    clock.advance(61)  # the hold is over: fal gets new work again, and it is quick now
    fal.side_effect = None
    fal.return_value = fal_ok()
    assert [provider_of(client, "burst", n) for n in range(6, 10)] == ["fal"] * 4
    assert runpod.call_count == 3


def test_a_throttled_primary_sends_the_next_requests_to_runpod(
    client: Any, wire: Wire, vendors: respx.MockRouter
) -> None:
    wire()
    fal = vendors.post(FAL_SCHNELL).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "20"}, json={"detail": "Too many requests"})
    )
    vendors.post(RUNSYNC).mock(return_value=runpod_done())
    together = vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    assert provider_of(client, "throttled", 1) == "together"  # this request's order was set before the 429
    assert [provider_of(client, "throttled", n) for n in range(2, 5)] == ["runpod"] * 3
    assert fal.call_count == 1 and together.call_count == 1


def test_past_the_spend_guard_share_there_is_no_burst(
    client: Any, wire: Wire, vendors: respx.MockRouter, clock: FakeClock
) -> None:
    # fal costs $0.003 a call: after 3 calls the day's spend ($0.009) is past 80 % of $0.01.
    wire(daily_budget_usd=0.01, burst_budget_share=0.8)
    fal = vendors.post(FAL_SCHNELL).mock(side_effect=slow_fal(clock))
    runpod = vendors.post(RUNSYNC).mock(return_value=runpod_done())
    assert [provider_of(client, "guarded", n) for n in range(4)] == ["fal"] * 4
    assert fal.call_count == 4 and not runpod.called


def test_without_a_burst_provider_a_slow_primary_keeps_its_work(
    client: Any, wire: Wire, vendors: respx.MockRouter, clock: FakeClock
) -> None:
    wire(burst_provider="")
    vendors.post(FAL_SCHNELL).mock(side_effect=slow_fal(clock))
    runpod = vendors.post(RUNSYNC).mock(return_value=runpod_done())
    assert [provider_of(client, "no-burst", n) for n in range(5)] == ["fal"] * 5
    assert not runpod.called


def test_an_unknown_burst_provider_stops_the_start_up_naming_the_setting() -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings.from_env({"AVATARFLOW_BURST_PROVIDER": "runpodd"})
    assert "AVATARFLOW_BURST_PROVIDER" in str(refused.value)
    with pytest.raises(pydantic.ValidationError, match="AVATARFLOW_BURST_BUDGET_SHARE"):
        Settings.from_env({"AVATARFLOW_BURST_BUDGET_SHARE": "1.5"})
