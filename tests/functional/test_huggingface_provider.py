"""Hugging Face Inference Providers as a generation provider, through the HTTP API.

The container is built from settings (``HF_TOKEN``, ``HF_BASE_URL`` and the other vendors'
keys pointing at fake https hosts); the vendors are mocked with respx in their documented shapes.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from chalicelib.config import Settings
from chalicelib.services.routing.router import ProviderRouter
from tests.conftest import auth, make_settings
from tests.unit.providers.helpers import png_bytes

FAL = "https://fal.test"
HF = "https://hf-router.test"
TOGETHER = "https://together.test"
FAL_SCHNELL = f"{FAL}/fal-ai/flux/schnell"
FAL_DEV = f"{FAL}/fal-ai/flux/dev"
HF_SCHNELL = f"{HF}/hf-inference/models/black-forest-labs/FLUX.1-schnell"
HF_DEV = f"{HF}/hf-inference/models/black-forest-labs/FLUX.1-dev"
HF_TOKEN = "hf_functional0123456789abcdefghij"
KEYS: dict[str, Any] = {
    "fal_key": "fal-functional-key:0123456789abcdef",
    "fal_base_url": FAL,
    "fal_queue_base_url": "https://queue.fal.test",
    "hf_token": HF_TOKEN,
    "hf_base_url": HF,
}
HF_PNG = png_bytes(96, (240, 180, 20))
FAL_PNG = png_bytes(96, (220, 30, 30))


def hf_image() -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "image/png"}, content=HF_PNG)


def fal_ok() -> httpx.Response:
    url = "data:image/png;base64," + base64.b64encode(FAL_PNG).decode()
    return httpx.Response(
        200,
        json={
            "images": [{"url": url, "width": 512, "height": 512, "content_type": "image/png"}],
            "timings": {"inference": 0.3},
            "seed": 1,
            "has_nsfw_concepts": [False],
            "prompt": "...",
        },
    )


@pytest.fixture
def vendors() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


Wire = Callable[..., Container]


@pytest.fixture
def wire(tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore) -> Iterator[Wire]:
    def build(**overrides: Any) -> Container:
        settings = make_settings(tmp_path, **{**KEYS, **overrides})
        container = build_container(settings, store=store, objects=objects)
        set_container(container)
        return container

    yield build
    set_container(None)


@pytest.fixture
def client(wire: Wire) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


def post(client: Any, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.http.post("/v1/generations", headers=headers, body=json.dumps(body))


def test_hf_has_its_place_in_the_failover_order(wire: Wire) -> None:
    container = wire(together_api_key="together-key-0123456789", replicate_api_token="r8_token0123456789")
    assert isinstance(container.ports.provider, ProviderRouter)
    assert [p.name for p in container.ports.provider.candidates("fast")] == [
        "fal",
        "together",
        "replicate",
        "huggingface",
    ]
    assert [p.name for p in container.ports.provider.candidates("standard")] == [
        "fal",
        "replicate",
        "huggingface",
    ]
    assert "huggingface" not in [p.name for p in container.ports.provider.candidates("pro")]


def test_hf_alone_serves_a_generation_with_its_image_and_price(
    client: Any, wire: Wire, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    wire(fal_key=None)
    route = vendors.post(HF_SCHNELL).mock(return_value=hf_image())
    headers = auth("hf-only", "free")
    response = post(client, {"style": "anime", "variation": 4}, headers)
    assert response.status_code == 200, response.body
    assert response.json_body["provider"] == "huggingface"
    assert response.json_body["status"] == "succeeded"
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {HF_TOKEN}"
    body = json.loads(sent.content)
    assert set(body) == {"inputs", "parameters"} and isinstance(body["inputs"], str)
    assert body["parameters"]["width"] == 512 and body["parameters"]["num_inference_steps"] == 4


def test_a_failing_together_fails_over_to_hf(client: Any, wire: Wire, vendors: respx.MockRouter) -> None:
    wire(fal_key=None, together_api_key="together-key-0123456789", together_base_url=TOGETHER)
    together = vendors.post(f"{TOGETHER}/v1/images/generations").mock(
        return_value=httpx.Response(500, json={"error": {"message": "internal"}})
    )
    hf = vendors.post(HF_SCHNELL).mock(return_value=hf_image())
    response = post(client, {"style": "pixel", "variation": 2}, auth("to-hf", "free"))
    assert response.status_code == 200, response.body
    assert response.json_body["provider"] == "huggingface"
    assert (together.call_count, hf.call_count) == (1, 1)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(401, json={"error": "Invalid credentials in Authorization header"}),
        httpx.Response(429, headers={"Retry-After": "30"}, json={"error": "Rate limit reached"}),
        httpx.Response(
            503,
            json={
                "error": "Model black-forest-labs/FLUX.1-schnell is currently loading",
                "estimated_time": 20.0,
            },
        ),
    ],
    ids=["401", "429-retry-after", "503-loading"],
)
def test_an_hf_failure_fails_over_to_the_next_in_line(
    client: Any, wire: Wire, vendors: respx.MockRouter, store: RedisStateStore, failure: httpx.Response
) -> None:
    # HF alone, then the offline renderer as the last resort: each typed error moves on at once.
    wire(fal_key=None, procedural_fallback=True)
    hf = vendors.post(HF_SCHNELL).mock(return_value=failure)
    response = post(client, {"style": "anime", "variation": 7}, auth("hf-fail", "free"))
    assert response.status_code == 200, response.body
    assert response.json_body["provider"] == "procedural"
    assert hf.call_count == 1
    health = store.breakers.health(["huggingface"])["huggingface"]
    now_ms = int(time.time() * 1000)
    if failure.status_code == 401:
        assert health.state(now_ms) == "open"  # a bad token: open for long, with an alert
    else:
        # A throttle, or a cold model with its estimate: cooling for that long (every Lambda skips
        # it meanwhile), not a failure of the vendor.
        assert health.cooling(now_ms) and health.failures == 0


@pytest.mark.parametrize(
    ("value", "reason"),
    [("hf_one,,hf_two", "key 2 of 3 is empty"), ("hf_one,hf_one", "repeats"), ("hf_one two", "spaces")],
)
def test_a_malformed_hf_token_pool_stops_the_start_up_naming_the_setting(
    wire: Wire, value: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        wire(hf_token=value)
    assert "HF_TOKEN" in str(refused.value)
    assert "hf_one" not in str(refused.value)


def test_hf_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env({"HF_TOKEN": "hf_a,hf_b", "HF_BASE_URL": "https://hf.example"})
    assert settings.hf_token is not None and settings.hf_token.get_secret_value() == "hf_a,hf_b"
    assert settings.hf_base_url == "https://hf.example"
    assert Settings.from_env({}).hf_base_url == "https://router.huggingface.co"
    assert Settings.from_env({"AVATARFLOW_BURST_PROVIDER": "huggingface"}).burst_provider == "huggingface"


def test_hf_as_the_burst_provider_takes_new_work_while_the_primary_is_throttled(
    client: Any, wire: Wire, vendors: respx.MockRouter
) -> None:
    wire(
        together_api_key="together-key-0123456789",
        together_base_url=TOGETHER,
        burst_provider="huggingface",
    )
    fal = vendors.post(FAL_SCHNELL).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "20"}, json={"detail": "Too many requests"})
    )
    together = vendors.post(f"{TOGETHER}/v1/images/generations").mock(
        return_value=httpx.Response(500, json={"error": {"message": "internal"}})
    )
    hf = vendors.post(HF_SCHNELL).mock(return_value=hf_image())
    providers = [
        post(client, {"style": "anime", "variation": n}, auth("hf-burst", "premium")).json_body["provider"]
        for n in range(1, 4)
    ]
    # The first request's order was set before the 429 (fal, Together, HF: failover reached HF);
    # the next ones go to Hugging Face first, the burst lane, while fal cools down.
    assert providers == ["huggingface"] * 3
    assert fal.call_count == 1 and together.call_count == 1 and hf.call_count == 3
