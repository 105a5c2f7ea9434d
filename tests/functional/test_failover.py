"""Failover between real provider adapters, through the HTTP API.

The container is built from settings (vendor keys and ``*_BASE_URL`` pointing at fake https hosts),
so bootstrap builds the real router over the real adapters and the real breakers in the store.
The vendors are mocked with ``respx.mock``, which patches httpx's transport globally (every
adapter's client, in every worker thread); ``assert_all_mocked`` fails any request nobody mocked.

Images come back inline (fal ``sync_mode`` data URIs, Together ``b64_json``), so no download and
no DNS is involved. Where a vendor answers with a URL (Replicate), the SSRF guard of
``chalicelib.adapters.outbound.fetch`` still resolves the host before it fetches: that test builds the provider
with ``build_provider(settings, store.breakers, resolver=...)``, the seam bootstrap offers for this, and
hands it to ``build_container``. Nothing in production code knows about tests.
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
from chalicelib.bootstrap import Container, build_container, build_provider, set_container
from chalicelib.ports import Clock
from chalicelib.services.routing.router import ProviderRouter
from tests.conftest import auth, make_settings
from tests.fakes import FakeClock
from tests.unit.providers.helpers import png_bytes, public_resolver

FAL = "https://fal.test"
TOGETHER = "https://together.test"
REPLICATE = "https://replicate.test"
FAL_SCHNELL = f"{FAL}/fal-ai/flux/schnell"
TOGETHER_IMAGES = f"{TOGETHER}/v1/images/generations"
REPLICATE_SCHNELL = f"{REPLICATE}/v1/models/black-forest-labs/flux-schnell/predictions"

FAL_KEY = "fal-functional-key:0123456789abcdef"
KEYS: dict[str, Any] = {
    "fal_key": FAL_KEY,
    "together_api_key": "together-functional-key-0123456789",
    "fal_base_url": FAL,
    "fal_queue_base_url": "https://queue.fal.test",
    "together_base_url": TOGETHER,
    "replicate_base_url": REPLICATE,
}

FAL_PNG = png_bytes(96, (220, 30, 30))
TOGETHER_PNG = png_bytes(96, (30, 200, 30))
REPLICATE_PNG = png_bytes(96, (30, 30, 210))


def fal_ok(png: bytes = FAL_PNG, nsfw: bool = False, url: str | None = None) -> httpx.Response:
    image_url = url or "data:image/png;base64," + base64.b64encode(png).decode()
    return httpx.Response(
        200,
        json={
            "images": [{"url": image_url, "width": 512, "height": 512, "content_type": "image/png"}],
            "timings": {"inference": 0.3},
            "seed": 1,
            "has_nsfw_concepts": [nsfw],
            "prompt": "...",
        },
    )


def together_ok() -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "tg-1",
            "model": "black-forest-labs/FLUX.1-schnell",
            "object": "list",
            "data": [{"index": 0, "b64_json": base64.b64encode(TOGETHER_PNG).decode()}],
        },
    )


def vendor_error(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"detail": f"HTTP {status} from the fake vendor"})


@pytest.fixture
def vendors() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


Wire = Callable[..., Container]


@pytest.fixture
def wire(tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore) -> Iterator[Wire]:
    """Install a container built from settings; any setting can be overridden."""

    def build(*, provider: Any = None, clock: Clock | None = None, **overrides: Any) -> Container:
        settings = make_settings(tmp_path, **{**KEYS, **overrides})
        container = build_container(settings, store=store, objects=objects, provider=provider, clock=clock)
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


def image_keys(objects: LocalObjectStore, root: Path) -> set[str]:
    folder = root / "img"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_the_router_is_built_from_the_settings(wire: Wire) -> None:
    container = wire()
    assert container.describe()["provider"] == "router"
    assert isinstance(container.ports.provider, ProviderRouter)
    assert [p.name for p in container.ports.provider.candidates("fast")] == ["fal", "together"]


def test_primary_500_fails_over_to_the_secondary(client: Any, wire: Wire, vendors: respx.MockRouter) -> None:
    wire()
    fal = vendors.post(FAL_SCHNELL).mock(return_value=vendor_error(500))
    together = vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    headers = auth("failover-500", "free")
    response = post(client, {"style": "anime", "variation": 1}, headers)
    assert response.status_code == 200, response.body
    assert response.json_body["provider"] == "together"
    assert (fal.call_count, together.call_count) == (1, 1)
    stored = client.http.get(f"/v1/generations/{response.json_body['id']}", headers=headers).json_body
    assert stored["provider"] == "together"
    assert stored["status"] == "succeeded"


def test_primary_timeout_fails_over_to_the_secondary(
    client: Any, wire: Wire, vendors: respx.MockRouter
) -> None:
    wire()
    fal = vendors.post(FAL_SCHNELL).mock(side_effect=httpx.ReadTimeout("slow"))
    vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    response = post(client, {"style": "anime", "variation": 2}, auth("failover-timeout"))
    assert response.status_code == 200, response.body
    assert response.json_body["provider"] == "together"
    assert fal.call_count == 1  # a timed-out POST is not repeated: it may have made (and billed) an image


def test_429_with_retry_after_skips_the_primary_for_its_duration(
    client: Any, wire: Wire, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    wire()
    fal = vendors.post(FAL_SCHNELL).mock(return_value=vendor_error(429, **{"Retry-After": "30"}))
    together = vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    headers = auth("throttled", "premium")
    started = time.monotonic()
    first = post(client, {"style": "pixel", "variation": 1}, headers)
    assert first.status_code == 200, first.body
    assert first.json_body["provider"] == "together"
    assert time.monotonic() - started < 10  # the next provider now, not after 30 s
    second = post(client, {"style": "pixel", "variation": 2}, headers)
    assert second.status_code == 200, second.body
    assert second.json_body["provider"] == "together"
    assert fal.call_count == 1  # skipped entirely within the 30 s
    assert together.call_count == 2
    health = store.breakers.health(["fal"])["fal"]
    assert health.cooling(int(time.time() * 1000))
    assert health.failures == 0


def test_breaker_opens_after_repeated_failures_and_half_opens_after_the_cool_down(
    client: Any, wire: Wire, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    clock = FakeClock(time.time())  # the router's breakers open and cool down by the container's clock
    wire(breaker_failure_threshold=3, breaker_cooldown_seconds=1.5, clock=clock)
    fal = vendors.post(FAL_SCHNELL).mock(return_value=vendor_error(502))
    together = vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    headers = auth("breaker-user", "premium")
    for variation in range(3):
        response = post(client, {"style": "flat", "variation": variation}, headers)
        assert response.json_body["provider"] == "together"
    assert fal.call_count == 3
    now_ms = int(clock.time() * 1000)
    assert store.breakers.health(["fal"])["fal"].state(now_ms) == "open"

    skipped = post(client, {"style": "flat", "variation": 10}, headers)
    assert skipped.json_body["provider"] == "together"
    assert fal.call_count == 3  # open: not called

    clock.advance(max(0.0, store.breakers.health(["fal"])["fal"].open_until_ms / 1000 - clock.time()) + 0.05)
    fal.mock(return_value=fal_ok())
    trial = post(client, {"style": "flat", "variation": 11}, headers)
    assert trial.status_code == 200, trial.body
    assert trial.json_body["provider"] == "fal"  # the half-open trial went through and succeeded
    assert fal.call_count == 4
    assert store.breakers.health(["fal"])["fal"].state(int(clock.time() * 1000)) == "closed"
    assert together.call_count == 4


def test_all_providers_down_is_503_with_suggestions_and_refunded(
    client: Any, wire: Wire, vendors: respx.MockRouter
) -> None:
    wire()
    vendors.post(FAL_SCHNELL).mock(return_value=vendor_error(500))
    vendors.post(TOGETHER_IMAGES).mock(return_value=vendor_error(503))
    headers = auth("everything-down", "free")
    response = post(client, {"style": "watercolor", "variation": 3}, headers)
    assert response.status_code == 503, response.body
    assert response.json_body["error"]["code"] == "provider_unavailable"
    suggestions = response.json_body["suggestions"]
    assert 0 < len(suggestions) <= 6
    assert suggestions[0]["style"] == "watercolor"
    assert "Retry-After" in response.headers
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert {w["window"]: w["remaining"] for w in quota["limits"]} == {"hour": 5, "day": 5}
    history = client.http.get("/v1/generations", headers=headers).json_body["items"]
    assert history[0]["status"] == "failed"
    assert history[0]["error"]["code"] == "provider_unavailable"


def test_nsfw_output_is_content_rejected_stored_nowhere_and_not_tried_elsewhere(
    client: Any, wire: Wire, vendors: respx.MockRouter, objects: LocalObjectStore, gallery_objects_dir: Path
) -> None:
    wire()
    flagged_url = "https://v3.fal.media/files/flagged/out.png"
    fal = vendors.post(FAL_SCHNELL).mock(return_value=fal_ok(nsfw=True, url=flagged_url))
    image = vendors.get(flagged_url).mock(return_value=httpx.Response(200, content=FAL_PNG))
    together = vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    headers = auth("nsfw-user", "free")
    before = image_keys(objects, gallery_objects_dir)

    response = post(client, {"style": "anime", "prompt": "something", "variation": 4}, headers)
    assert response.status_code == 422, response.body  # the contract's content_rejected
    assert response.json_body["error"]["code"] == "content_rejected"
    assert response.json_body["error"]["details"][0]["field"] == "prompt"
    assert fal.call_count == 1
    assert not image.called  # a flagged image is never even downloaded
    assert together.call_count == 0  # never shopped around
    assert image_keys(objects, gallery_objects_dir) == before

    history = client.http.get("/v1/generations", headers=headers).json_body["items"]
    assert history[0]["status"] == "failed"
    assert history[0]["error"]["code"] == "content_rejected"
    assert history[0]["images"] is None
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert all(w["remaining"] == 5 for w in quota["limits"])


def test_bad_key_alerts_and_the_next_request_skips_that_provider(
    client: Any, wire: Wire, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    wire()
    fal = vendors.post(FAL_SCHNELL).mock(return_value=vendor_error(401))
    vendors.post(TOGETHER_IMAGES).mock(return_value=together_ok())
    headers = auth("auth-user", "premium")
    assert post(client, {"style": "oil", "variation": 1}, headers).json_body["provider"] == "together"
    assert post(client, {"style": "oil", "variation": 2}, headers).json_body["provider"] == "together"
    assert fal.call_count == 1
    health = store.breakers.health(["fal"])["fal"]
    assert health.reason == "auth"
    assert health.open_until_ms > int(time.time() * 1000) + 3500 * 1000


def test_a_url_output_is_fetched_through_the_ssrf_guard_on_failover(
    client: Any, wire: Wire, vendors: respx.MockRouter, tmp_path: Path, store: RedisStateStore
) -> None:
    keys = {**KEYS, "together_api_key": None, "replicate_api_token": "r8_functional_token_0123456789"}
    settings = make_settings(tmp_path, **keys)
    # The one seam for DNS: the SSRF guard resolves replicate.delivery through this resolver.
    wire(provider=build_provider(settings, store.breakers, resolver=public_resolver), **keys)
    vendors.post(FAL_SCHNELL).mock(return_value=vendor_error(500))
    output = "https://replicate.delivery/xezq/abc123/out-0.png"
    replicate = vendors.post(REPLICATE_SCHNELL).mock(
        return_value=httpx.Response(
            201,
            json={
                "id": "p1",
                "status": "succeeded",
                "output": [output],
                "urls": {
                    "get": f"{REPLICATE}/v1/predictions/p1",
                    "cancel": f"{REPLICATE}/v1/predictions/p1/cancel",
                },
            },
        )
    )
    image = vendors.get(output).mock(
        return_value=httpx.Response(200, headers={"Content-Type": "image/png"}, content=REPLICATE_PNG)
    )
    response = post(client, {"style": "oil", "variation": 8}, auth("url-user", "premium"))
    assert response.status_code == 200, response.body
    assert response.json_body["provider"] == "replicate"
    assert replicate.call_count == 1
    assert replicate.calls.last.request.headers["Authorization"] == "Bearer r8_functional_token_0123456789"
    assert image.call_count == 1
    assert image.calls.last.request.headers.get("Authorization") is None  # the token stays with the API
