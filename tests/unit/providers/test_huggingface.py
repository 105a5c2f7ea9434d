"""HuggingFaceProvider against the Inference Providers router's text-to-image shapes (respx).

The request: ``POST https://router.huggingface.co/hf-inference/models/{model}`` with a bearer
token and ``{"inputs": prompt, "parameters": {...}}``; the answer: the image bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from chalicelib.adapters.key_pool import KeyPool
from chalicelib.adapters.providers.huggingface import HuggingFaceProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.pricing import PriceTable
from chalicelib.ports import (
    ContentRejected,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderThrottled,
    RetryableProviderError,
)
from tests.unit.providers.helpers import PNG, body_of, make_request, png_response

TOKEN = "hf_TestToken0123456789abcdefghij"
SCHNELL = "https://router.huggingface.co/hf-inference/models/black-forest-labs/FLUX.1-schnell"
DEV = "https://router.huggingface.co/hf-inference/models/black-forest-labs/FLUX.1-dev"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def hf() -> Iterator[HuggingFaceProvider]:
    provider = HuggingFaceProvider(TOKEN)
    yield provider
    provider.close()


def test_schnell_sends_the_documented_request_and_returns_the_image_bytes(
    router: respx.MockRouter, hf: HuggingFaceProvider
) -> None:
    route = router.post(SCHNELL).mock(return_value=png_response())
    result = hf.generate(make_request("fast", size=512))

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "image/png" in sent.headers["Accept"]
    assert body_of(sent) == {
        "inputs": "a watercolor portrait of a fox, soft light",
        "parameters": {"width": 512, "height": 512, "seed": 424242, "num_inference_steps": 4},
    }
    assert result.image == PNG
    assert result.provider == "huggingface"
    assert result.model == "black-forest-labs/FLUX.1-schnell"
    assert result.cost_usd == pytest.approx(0.003)  # one megapixel, rounded up


def test_dev_serves_standard_with_28_steps_and_its_price(
    router: respx.MockRouter, hf: HuggingFaceProvider
) -> None:
    route = router.post(DEV).mock(return_value=png_response())
    result = hf.generate(make_request("standard", size=1024))
    assert body_of(route.calls.last.request)["parameters"] == {
        "width": 1024,
        "height": 1024,
        "seed": 424242,
        "num_inference_steps": 28,
    }
    assert result.model == "black-forest-labs/FLUX.1-dev"
    assert result.cost_usd == pytest.approx(0.025)


def test_pro_is_not_offered(hf: HuggingFaceProvider) -> None:
    assert hf.supports("fast") and hf.supports("standard") and not hf.supports("pro")
    with pytest.raises(ProviderBadRequest):
        hf.generate(make_request("pro"))


def test_hf_base_url_replaces_the_router(router: respx.MockRouter) -> None:
    route = router.post("http://127.0.0.1:9/hf/hf-inference/models/black-forest-labs/FLUX.1-schnell").mock(
        return_value=png_response()
    )
    provider = HuggingFaceProvider(TOKEN, ProviderOptions(base_url="http://127.0.0.1:9/hf/"))
    try:
        assert provider.generate(make_request()).image == PNG
    finally:
        provider.close()
    assert route.call_count == 1


def test_401_is_an_auth_error_without_the_token(router: respx.MockRouter, hf: HuggingFaceProvider) -> None:
    router.post(SCHNELL).mock(
        return_value=httpx.Response(
            401, json={"error": f"Invalid credentials in Authorization header {TOKEN}"}
        )
    )
    with pytest.raises(ProviderAuthError) as raised:
        hf.generate(make_request())
    assert "HTTP 401" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_402_spent_credits_is_an_auth_error(router: respx.MockRouter, hf: HuggingFaceProvider) -> None:
    router.post(SCHNELL).mock(
        return_value=httpx.Response(
            402, json={"error": "You have exceeded your monthly included credits for Inference Providers."}
        )
    )
    with pytest.raises(ProviderAuthError):
        hf.generate(make_request())


def test_429_with_retry_after_is_a_throttle_with_its_delay(
    router: respx.MockRouter, hf: HuggingFaceProvider
) -> None:
    router.post(SCHNELL).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "17"}, json={"error": "Rate limit reached"})
    )
    with pytest.raises(ProviderThrottled) as raised:
        hf.generate(make_request())
    assert raised.value.retry_after == 17.0


def test_503_loading_model_is_retryable_after_its_estimate(
    router: respx.MockRouter, hf: HuggingFaceProvider
) -> None:
    router.post(SCHNELL).mock(
        return_value=httpx.Response(
            503,
            json={
                "error": "Model black-forest-labs/FLUX.1-schnell is currently loading",
                "estimated_time": 20.0,
            },
        )
    )
    with pytest.raises(RetryableProviderError) as raised:
        hf.generate(make_request())
    assert raised.value.kind == "retryable"
    assert raised.value.retry_after == 20.0
    assert "currently loading" in str(raised.value)


def test_a_200_that_is_not_an_image_is_down(router: respx.MockRouter, hf: HuggingFaceProvider) -> None:
    router.post(SCHNELL).mock(return_value=httpx.Response(200, json={"error": "something odd"}))
    with pytest.raises(ProviderDown):
        hf.generate(make_request())


def test_image_content_type_with_bytes_that_are_not_an_image_is_down(
    router: respx.MockRouter, hf: HuggingFaceProvider
) -> None:
    router.post(SCHNELL).mock(
        return_value=httpx.Response(200, headers={"Content-Type": "image/png"}, content=b"<html>oops</html>")
    )
    with pytest.raises(ProviderDown):
        hf.generate(make_request())


def test_a_content_refusal_is_content_rejected(router: respx.MockRouter, hf: HuggingFaceProvider) -> None:
    router.post(SCHNELL).mock(
        return_value=httpx.Response(400, json={"error": "Your prompt was flagged: NSFW content detected"})
    )
    with pytest.raises(ContentRejected):
        hf.generate(make_request())


def test_a_pool_sends_the_next_token_after_a_refused_one(router: respx.MockRouter) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer hf_first_bad_token":
            return httpx.Response(401, json={"error": "Invalid credentials"})
        return png_response()

    router.post(SCHNELL).mock(side_effect=answer)
    pool = KeyPool("huggingface", ["hf_first_bad_token", "hf_second_good_token"])
    provider = HuggingFaceProvider(pool, ProviderOptions(prices=PriceTable()))
    try:
        assert provider.generate(make_request()).image == PNG
    finally:
        provider.close()
    assert seen == ["Bearer hf_first_bad_token", "Bearer hf_second_good_token"]
