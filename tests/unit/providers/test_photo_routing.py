"""Photo generations under the provider router (issue 26's gap): the photo models get the same
circuit breakers, ProviderAttempted events and key pools as the vendors' text-to-image calls."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from chalicelib.adapters.providers.http_base import HttpProvider
from chalicelib.adapters.providers.photo_vendors import FalPhotoProvider, TogetherPhotoProvider
from chalicelib.adapters.storage.local_uploads import LocalUploadSigner
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap.adapters import build_provider
from chalicelib.bootstrap.photos import photo_vendors
from chalicelib.domain.events import ProviderAttempted
from chalicelib.domain.uploads import FaceBox, Upload
from chalicelib.ports import BreakerPolicy, ProviderBadRequest
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.routing.photos import PhotoProviders
from chalicelib.services.routing.policy import RoutingPolicy
from chalicelib.services.routing.router import ProviderRouter
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.unit.providers.helpers import PNG_B64, make_request, public_resolver
from tests.unit.providers.test_photo_vendors import FAL_URL, TOGETHER_URL, options

OPEN_AT_ONCE = BreakerPolicy(failure_threshold=1, cooldown_s=30.0)


@pytest.fixture
def vendors() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


class Objects:
    def get(self, key: str) -> bytes | None:
        return None


def chain(
    store: RedisStateStore, clock: FakeClock, attempts: list[ProviderAttempted]
) -> tuple[PhotoProviders, str]:
    upload = Upload.new("u:ada", "image/jpeg", 1000, time.time(), 3600).ready(FaceBox(0.3, 0.2, 0.3, 0.3))
    router = ProviderRouter(
        [],
        store.breakers,
        policy=RoutingPolicy(breaker=OPEN_AT_ONCE),
        clock=clock,
        bus=MessageBus({ProviderAttempted: [attempts.append]}),
    )
    return PhotoProviders(
        [FalPhotoProvider("k", options()), TogetherPhotoProvider("t", options())],
        router=router,
        lookup={upload.id: upload}.get,
        objects=Objects(),  # type: ignore[arg-type]
        signer=LocalUploadSigner("secret", "https://api.example.com"),
    ), upload.id


def together_ok() -> httpx.Response:
    return httpx.Response(200, json={"data": [{"index": 0, "b64_json": PNG_B64}]})


def test_a_failed_photo_call_counts_on_the_vendors_breaker_and_is_an_event(
    vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    clock = FakeClock()
    attempts: list[ProviderAttempted] = []
    photos, upload_id = chain(store, clock, attempts)
    vendors.post(FAL_URL).mock(return_value=httpx.Response(503, json={"detail": "overloaded"}))
    vendors.post(TOGETHER_URL).mock(return_value=together_ok())
    result = photos.generate(dataclasses.replace(make_request(), photo=upload_id))
    assert result.provider == "together"
    assert [(a.provider, a.error_kind) for a in attempts] == [("fal", "retryable"), ("together", None)]
    fal = store.breakers.health(["fal"])["fal"]
    assert fal.state(int(clock.time() * 1000)) == "open"  # one failure opens it under this policy


def test_an_open_breaker_skips_the_vendors_photo_model_too(
    vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    clock = FakeClock()
    attempts: list[ProviderAttempted] = []
    photos, upload_id = chain(store, clock, attempts)
    store.breakers.record("fal", "failure", int(clock.time() * 1000), OPEN_AT_ONCE)  # a text call failed
    fal = vendors.post(FAL_URL).mock(return_value=httpx.Response(200, json={"images": []}))
    vendors.post(TOGETHER_URL).mock(return_value=together_ok())
    assert photos.generate(dataclasses.replace(make_request(), photo=upload_id)).provider == "together"
    assert not fal.calls
    assert [(a.provider, a.skipped) for a in attempts] == [("fal", "open"), ("together", None)]


def test_a_bad_request_of_a_photo_model_is_not_failed_over(
    vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    photos, upload_id = chain(store, FakeClock(), [])
    vendors.post(FAL_URL).mock(return_value=httpx.Response(400, json={"detail": "image_url is invalid"}))
    together = vendors.post(TOGETHER_URL).mock(return_value=together_ok())
    with pytest.raises(ProviderBadRequest):
        photos.generate(dataclasses.replace(make_request(), photo=upload_id))
    assert not together.calls


def test_the_photo_models_share_their_vendors_key_pools_and_options(
    tmp_path: Path, store: RedisStateStore
) -> None:
    settings = make_settings(
        tmp_path, fal_key="fal-key-1,fal-key-2", together_api_key="tg-key", replicate_api_token="r8_token"
    )
    router = build_provider(settings, store.breakers, resolver=public_resolver)
    assert isinstance(router, ProviderRouter)
    photo = {p.name: p for p in photo_vendors(settings, router)}
    assert list(photo) == ["fal", "replicate", "together"]
    for name, adapter in photo.items():
        vendor = router.vendor(name)
        assert isinstance(adapter, HttpProvider) and isinstance(vendor, HttpProvider)
        assert adapter.keys is vendor.keys  # one pool: a key set aside is set aside for both
        assert adapter.options.resolver is public_resolver
        assert adapter.options.deadline_s == settings.provider_deadline_seconds
    fal = photo["fal"]
    assert isinstance(fal, FalPhotoProvider) and fal.model_for("fast") == "fal-ai/flux-pulid"
