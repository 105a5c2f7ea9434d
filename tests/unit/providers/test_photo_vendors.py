"""The photo models against the vendors' documented request and response shapes (respx), and
the failover between them with the photo given as a presigned GET valid at most 10 minutes."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.photo_prices import photo_prices
from chalicelib.adapters.providers.photo_vendors import (
    FAL_KONTEXT,
    FalPhotoProvider,
    ReplicatePhotoProvider,
    TogetherPhotoProvider,
    id_weight,
)
from chalicelib.adapters.storage.local_uploads import LocalUploadSigner
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.uploads import FaceBox, Upload
from chalicelib.ports import ContentRejected, ProviderBadRequest, ProviderRequest
from chalicelib.services.routing.photos import PhotoProviders
from chalicelib.services.routing.router import ProviderRouter
from tests.unit.providers.helpers import PNG, PNG_B64, body_of, make_request, png_response, public_resolver

PHOTO_URL = "https://uploads.example.com/uploads/upl_x?X-Amz-Expires=600&X-Amz-Signature=abc"
FAL_URL = "https://fal.run/fal-ai/flux-pulid"
FAL_IMAGE = "https://v3.fal.media/files/zebra/pulid-out.png"
REPLICATE_CREATE = "https://api.replicate.com/v1/models/black-forest-labs/flux-kontext-pro/predictions"
REPLICATE_OUT = "https://replicate.delivery/xezq/kontext-out.png"
TOGETHER_URL = "https://api.together.ai/v1/images/generations"


def photo_request(likeness: float = 0.8, size: int = 512) -> ProviderRequest:
    return dataclasses.replace(
        make_request("fast", size=size), photo="upl_" + "a" * 20, likeness=likeness, photo_url=PHOTO_URL
    )


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def options() -> ProviderOptions:
    return ProviderOptions(resolver=public_resolver, prices=photo_prices(None))


def test_fal_pulid_gets_the_photo_as_reference_and_likeness_as_id_weight(router: respx.MockRouter) -> None:
    route = router.post(FAL_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "images": [{"url": FAL_IMAGE, "width": 1024, "height": 1024, "content_type": "image/png"}],
                "seed": 424242,
                "has_nsfw_concepts": [False],
                "prompt": "anime",
            },
        )
    )
    router.get(FAL_IMAGE).mock(return_value=png_response())
    fal = FalPhotoProvider("fal-key-123", options())
    result = fal.generate(photo_request(likeness=0.8))
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Key fal-key-123"
    body = body_of(sent)
    assert body["reference_image_url"] == PHOTO_URL
    assert body["id_weight"] == 1.0  # likeness 0.8 -> fal's default weight
    assert body["prompt"] == "a watercolor portrait of a fox, soft light"
    assert body["image_size"] == "square" and body["seed"] == 424242 and body["enable_safety_checker"] is True
    assert result.image == PNG and (result.provider, result.model) == ("fal", "fal-ai/flux-pulid")
    assert result.cost_usd == pytest.approx(0.033)  # one megapixel
    assert [id_weight(x) for x in (0.0, 0.4, 1.0)] == [0.0, 0.5, 1.25]


def test_fal_kontext_gets_the_photo_as_image_url(router: respx.MockRouter) -> None:
    route = router.post(f"https://fal.run/{FAL_KONTEXT}").mock(
        return_value=httpx.Response(
            200, json={"images": [{"url": FAL_IMAGE}], "has_nsfw_concepts": [False], "seed": 1, "prompt": "x"}
        )
    )
    router.get(FAL_IMAGE).mock(return_value=png_response())
    result = FalPhotoProvider("k", options(), model=FAL_KONTEXT).generate(photo_request(likeness=0.9))
    body = body_of(route.calls.last.request)
    assert body["image_url"] == PHOTO_URL and "reference_image_url" not in body
    assert "exact facial features" in body["prompt"] and body["guidance_scale"] == pytest.approx(2.7)
    assert result.cost_usd == pytest.approx(0.04)


def test_fal_flags_nsfw_as_content_rejected(router: respx.MockRouter) -> None:
    router.post(FAL_URL).mock(
        return_value=httpx.Response(200, json={"images": [{"url": FAL_IMAGE}], "has_nsfw_concepts": [True]})
    )
    with pytest.raises(ContentRejected):
        FalPhotoProvider("k", options()).generate(photo_request())


def test_replicate_kontext_gets_the_photo_as_input_image(router: respx.MockRouter) -> None:
    prediction = {
        "id": "q6ytpvb1nxrj00cm3s8t6ag8v0",
        "model": "black-forest-labs/flux-kontext-pro",
        "version": "hidden",
        "status": "succeeded",
        "output": REPLICATE_OUT,  # flux-kontext-pro answers one URI string
        "error": None,
        "urls": {
            "get": "https://api.replicate.com/v1/predictions/q6ytpvb1nxrj00cm3s8t6ag8v0",
            "cancel": "https://api.replicate.com/v1/predictions/q6ytpvb1nxrj00cm3s8t6ag8v0/cancel",
        },
    }
    route = router.post(REPLICATE_CREATE).mock(return_value=httpx.Response(201, json=prediction))
    router.get(REPLICATE_OUT).mock(return_value=png_response())
    replicate = ReplicatePhotoProvider("r8_token", options(), deadline_seconds=30.0)
    result = replicate.generate(photo_request(likeness=0.3))
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer r8_token" and sent.headers["Prefer"].startswith("wait=")
    data = body_of(sent)["input"]
    assert data["input_image"] == PHOTO_URL and data["aspect_ratio"] == "1:1" and data["seed"] == 424242
    assert "Loosely inspired" in data["prompt"]
    assert result.image == PNG and result.cost_usd == pytest.approx(0.04)


def test_together_kontext_gets_the_photo_as_image_url(router: respx.MockRouter) -> None:
    route = router.post(TOGETHER_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "oFuwv7Y-2kFHot-99170ebf9e84e0ce-SJC",
                "model": "black-forest-labs/FLUX.1-kontext-pro",
                "object": "list",
                "data": [{"index": 0, "b64_json": PNG_B64}],
            },
        )
    )
    result = TogetherPhotoProvider("tgp_key", options()).generate(photo_request(likeness=0.5, size=1024))
    body = body_of(route.calls.last.request)
    assert body["model"] == "black-forest-labs/FLUX.1-kontext-pro" and body["image_url"] == PHOTO_URL
    assert (body["width"], body["height"], body["n"]) == (1024, 1024, 1) and "steps" not in body
    assert "recognisable" in body["prompt"]
    assert result.image == PNG and result.cost_usd == pytest.approx(0.04)


def test_a_photo_request_without_its_url_is_refused_before_any_call(router: respx.MockRouter) -> None:
    with pytest.raises(ProviderBadRequest):
        FalPhotoProvider("k", options()).generate(dataclasses.replace(photo_request(), photo_url=None))
    assert not router.calls


class Objects:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)


def ready_upload() -> Upload:
    return Upload.new("u:ada", "image/jpeg", 1000, time.time(), 3600).ready(FaceBox(0.3, 0.2, 0.3, 0.3))


def test_failover_from_a_vendor_that_is_down_to_the_next_with_a_ten_minute_url(
    router: respx.MockRouter, store: RedisStateStore
) -> None:
    upload = ready_upload()
    router.post(FAL_URL).mock(return_value=httpx.Response(503, json={"detail": "overloaded"}))
    together = router.post(TOGETHER_URL).mock(
        return_value=httpx.Response(200, json={"data": [{"index": 0, "b64_json": PNG_B64}]})
    )
    signer = LocalUploadSigner("secret", "https://api.example.com")
    chain = PhotoProviders(
        [FalPhotoProvider("k", options()), TogetherPhotoProvider("t", options())],
        router=ProviderRouter([], store.breakers),  # the photo models' failover: the router's
        lookup={upload.id: upload}.get,
        objects=Objects(),  # type: ignore[arg-type]
        signer=signer,
    )
    request = dataclasses.replace(make_request(), photo=upload.id)
    started = time.time()
    result = chain.generate(request)
    assert result.provider == "together"
    url = body_of(together.calls.last.request)["image_url"]
    assert url.startswith("https://api.example.com/v1/local-uploads/")
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert started < expires <= started + 600 + 1  # valid at most ten minutes


def test_a_refusal_is_not_failed_over(router: respx.MockRouter, store: RedisStateStore) -> None:
    upload = ready_upload()
    router.post(FAL_URL).mock(
        return_value=httpx.Response(200, json={"images": [{"url": FAL_IMAGE}], "has_nsfw_concepts": [True]})
    )
    together = router.post(TOGETHER_URL).mock(return_value=httpx.Response(200, json={"data": []}))
    chain = PhotoProviders(
        [FalPhotoProvider("k", options()), TogetherPhotoProvider("t", options())],
        router=ProviderRouter([], store.breakers),  # the photo models' failover: the router's
        lookup={upload.id: upload}.get,
        objects=Objects(),  # type: ignore[arg-type]
        signer=LocalUploadSigner("secret", "https://api.example.com"),
    )
    with pytest.raises(ContentRejected):
        chain.generate(dataclasses.replace(make_request(), photo=upload.id))
    assert not together.calls


def test_a_photo_gone_since_admission_fails_the_job(router: respx.MockRouter, store: RedisStateStore) -> None:
    chain = PhotoProviders(
        [FalPhotoProvider("k", options())],
        router=ProviderRouter([], store.breakers),  # the photo models' failover: the router's
        lookup=lambda upload_id: None,
        objects=Objects(),  # type: ignore[arg-type]
        signer=LocalUploadSigner("secret", "https://api.example.com"),
    )
    with pytest.raises(ProviderBadRequest):
        chain.generate(dataclasses.replace(make_request(), photo="upl_" + "b" * 20))
    assert not router.calls


def test_photo_prices_keep_an_operators_override() -> None:
    table = photo_prices('{"fal": {"fal-ai/flux-pulid": 0.05}}')
    assert table.cost_usd("fal", "fal-ai/flux-pulid", 1024, 1024) == pytest.approx(0.05)
    assert table.cost_usd("replicate", "black-forest-labs/flux-kontext-pro", 1024, 1024) == pytest.approx(
        0.04
    )
    assert table.cost_usd("fal", "fal-ai/flux/schnell", 1024, 1024) == pytest.approx(0.003)
