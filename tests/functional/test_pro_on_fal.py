"""The ``pro`` quality through the HTTP API: FLUX1.1 [pro] on fal first, gpt-image-1 on OpenAI as its
failover (DALL-E 3 is removed from OpenAI's API), each priced from the price table (the spend the
admin stats and the spend guard see).

Stand-in vendors in their own shapes (respx): fal's sync endpoint answers with an inline image;
OpenAI is the shared stand-in (``stack/standins/openai.py``, the one ``make stack`` serves and the
openai SDK checks), answering ``b64_json`` and ``model_not_found`` for a removed model.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from chalice.test import Client

from app import app
from chalicelib.adapters.providers.openai import OpenAIProvider
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from stack.standins import OPENAI_KEY, StandIns
from tests.conftest import auth, make_settings
from tests.fakes import wait_ended
from tests.functional.test_failover import FAL, fal_ok, vendor_error

FAL_PRO = f"{FAL}/fal-ai/flux-pro/v1.1"
OPENAI = "https://openai.test"
OPENAI_IMAGES = f"{OPENAI}/v1/images/generations"
ADMIN_TOKEN = "admin-token-for-the-pro-tests-0123456789abcdef"


@pytest.fixture
def standins() -> StandIns:
    return StandIns()


def openai_standin(vendors: respx.MockRouter, standins: StandIns) -> respx.Route:
    """OpenAI's images API answered by the shared stand-in (the real answer shape)."""
    return vendors.post(OPENAI_IMAGES).mock(side_effect=standins.handler("openai", OPENAI))


@pytest.fixture
def vendors() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def container(tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore) -> Iterator[Container]:
    settings = make_settings(
        tmp_path,
        fal_key="fal-pro-key:0123456789abcdef",
        openai_api_key=OPENAI_KEY,
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
    client: Any, container: Container, vendors: respx.MockRouter, standins: StandIns
) -> None:
    fal = vendors.post(FAL_PRO).mock(return_value=fal_ok())
    openai = openai_standin(vendors, standins)
    done = generate_pro(client, container, "pro-on-fal")
    assert done["status"] == "succeeded", done
    assert done["provider"] == "fal"
    assert fal.call_count == 1 and not openai.called
    sent = json.loads(fal.calls.last.request.content)
    assert sent["image_size"] == "square_hd" and "num_inference_steps" not in sent  # [pro] takes no steps
    assert sent["safety_tolerance"] == "2" and "enable_safety_checker" not in sent  # [pro]'s own schema
    assert spend(client) == {"total_usd": pytest.approx(0.04), "by_provider": {"fal": pytest.approx(0.04)}}


def test_pro_fails_over_to_gpt_image_1_when_fal_is_down(
    client: Any, container: Container, vendors: respx.MockRouter, standins: StandIns
) -> None:
    fal = vendors.post(FAL_PRO).mock(return_value=vendor_error(503))
    openai = openai_standin(vendors, standins)
    done = generate_pro(client, container, "pro-failover")
    assert done["status"] == "succeeded", done
    assert done["provider"] == "openai"
    assert fal.call_count == 1 and openai.call_count == 1
    sent = json.loads(openai.calls.last.request.content)
    assert (sent["model"], sent["quality"], sent["size"]) == ("gpt-image-1", "medium", "1024x1024")
    assert spend(client) == {
        "total_usd": pytest.approx(0.042),
        "by_provider": {"openai": pytest.approx(0.042)},
    }


@pytest.fixture
def openai_only(tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore) -> Iterator[Container]:
    """Only an OpenAI key: no fal, no other vendor, no offline fallback."""
    settings = make_settings(
        tmp_path,
        openai_api_key=OPENAI_KEY,
        openai_base_url=OPENAI,
        admin_token=ADMIN_TOKEN,
        procedural_fallback=False,
    )
    built = build_container(settings, store=store, objects=objects)
    set_container(built)
    yield built
    set_container(None)


def test_pro_with_only_an_openai_key_succeeds_through_the_current_model(
    openai_only: Container, vendors: respx.MockRouter, standins: StandIns
) -> None:
    openai = openai_standin(vendors, standins)
    with Client(app, stage_name="local") as client:
        done = generate_pro(client, openai_only, "openai-only")
        assert done["status"] == "succeeded", done
        assert done["provider"] == "openai"
        assert openai.call_count == 1
        assert json.loads(openai.calls.last.request.content)["model"] == "gpt-image-1"
        assert spend(client)["by_provider"] == {"openai": pytest.approx(0.042)}


def test_a_removed_model_trips_the_breaker_and_raises_a_configuration_alert(
    openai_only: Container,
    store: RedisStateStore,
    vendors: respx.MockRouter,
    standins: StandIns,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An OpenAI model configured that no longer exists (dall-e-3): ``model_not_found`` is not a
    bad request but a configuration error: the breaker opens for long and an operator is alerted."""
    built = openai_only
    for adapter in built.ports.provider.candidates("pro"):
        assert isinstance(adapter, OpenAIProvider)
        adapter._models = {"pro": "dall-e-3"}  # an outdated setting: a model OpenAI has removed
    openai = openai_standin(vendors, standins)
    with Client(app, stage_name="local") as client, caplog.at_level(logging.ERROR, "avatarflow.alerts"):
        done = generate_pro(client, built, "removed-model")
        again = generate_pro(client, built, "removed-model-again")
    assert done["status"] == "failed" and again["status"] == "failed"
    assert openai.call_count == 1  # the second request skips OpenAI: its breaker is open
    health = store.breakers.health(["openai"])["openai"]
    assert health.reason == "auth"
    assert health.open_until_ms > int(time.time() * 1000) + 3500 * 1000
    alerts = [r for r in caplog.records if getattr(r, "alert", None) == "provider_config"]
    assert len(alerts) == 1
    assert alerts[0].vendor_request_id.startswith("req_")  # type: ignore[attr-defined]
    assert "dall-e-3" in alerts[0].detail  # type: ignore[attr-defined]
