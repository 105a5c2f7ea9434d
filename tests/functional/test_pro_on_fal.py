"""The ``pro`` quality through the HTTP API: FLUX1.1 [pro] on fal first, DALL-E 3 on OpenAI as its
failover, each priced from the price table (the spend the admin stats and the spend guard see).

Stand-in vendors in their own shapes (respx): fal's sync endpoint answers with an inline image,
OpenAI's images API with ``b64_json``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from chalice.test import Client

from app import app
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from tests.conftest import auth, make_settings
from tests.fakes import wait_ended
from tests.functional.test_failover import FAL, fal_ok, vendor_error
from tests.unit.providers.helpers import png_bytes

FAL_PRO = f"{FAL}/fal-ai/flux-pro/v1.1"
OPENAI = "https://openai.test"
OPENAI_IMAGES = f"{OPENAI}/v1/images/generations"
ADMIN_TOKEN = "admin-token-for-the-pro-tests-0123456789abcdef"


def openai_ok() -> httpx.Response:
    png = png_bytes(64, (10, 120, 240))
    return httpx.Response(
        200, json={"created": 1713833628, "data": [{"b64_json": base64.b64encode(png).decode()}]}
    )


@pytest.fixture
def vendors() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def container(tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore) -> Iterator[Container]:
    settings = make_settings(
        tmp_path,
        fal_key="fal-pro-key:0123456789abcdef",
        openai_api_key="sk-pro-test-0123456789",
        fal_base_url=FAL,
        fal_queue_base_url="https://queue.fal.test",
        openai_base_url=OPENAI,
        admin_token=ADMIN_TOKEN,
    )
    built = build_container(settings, store=store, objects=objects)
    set_container(built)
    yield built
    set_container(None)


@pytest.fixture
def client(container: Container) -> Iterator[Any]:
    with Client(app, stage_name="local") as test_client:
        yield test_client


def generate_pro(client: Any, container: Container, user: str) -> dict[str, Any]:
    headers = auth(user, "enterprise")
    accepted = client.http.post(
        "/v1/generations",
        headers=headers,
        body=json.dumps({"style": "oil", "quality": "pro", "size": 1024, "prompt": f"portrait of {user}"}),
    )
    assert accepted.status_code in (200, 202), accepted.body
    generation_id = accepted.json_body["id"]
    wait_ended(container, generation_id)
    body: dict[str, Any] = client.http.get(f"/v1/generations/{generation_id}", headers=headers).json_body
    return body


def spend(client: Any) -> dict[str, Any]:
    stats = client.http.get("/v1/admin/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert stats.status_code == 200, stats.body
    body: dict[str, Any] = stats.json_body["today"]["spend"]
    return body


def test_pro_is_flux_pro_on_fal_priced_per_megapixel(
    client: Any, container: Container, vendors: respx.MockRouter
) -> None:
    fal = vendors.post(FAL_PRO).mock(return_value=fal_ok())
    openai = vendors.post(OPENAI_IMAGES).mock(return_value=openai_ok())
    done = generate_pro(client, container, "pro-on-fal")
    assert done["status"] == "succeeded", done
    assert done["provider"] == "fal"
    assert fal.call_count == 1 and not openai.called
    sent = json.loads(fal.calls.last.request.content)
    assert sent["image_size"] == "square_hd" and "num_inference_steps" not in sent  # [pro] takes no steps
    assert spend(client) == {"total_usd": pytest.approx(0.04), "by_provider": {"fal": pytest.approx(0.04)}}


def test_pro_fails_over_to_dall_e_3_when_fal_is_down(
    client: Any, container: Container, vendors: respx.MockRouter
) -> None:
    fal = vendors.post(FAL_PRO).mock(return_value=vendor_error(503))
    openai = vendors.post(OPENAI_IMAGES).mock(return_value=openai_ok())
    done = generate_pro(client, container, "pro-failover")
    assert done["status"] == "succeeded", done
    assert done["provider"] == "openai"
    assert fal.call_count == 1 and openai.call_count == 1
    assert json.loads(openai.calls.last.request.content)["model"] == "dall-e-3"
    assert spend(client) == {"total_usd": pytest.approx(0.04), "by_provider": {"openai": pytest.approx(0.04)}}
