"""TogetherProvider against Together's image generation shapes (respx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.together import TogetherProvider
from chalicelib.ports import (
    ContentRejected,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    RetryableProviderError,
)
from tests.unit.providers.helpers import PNG, PNG_B64, body_of, make_request, png_response, public_resolver

KEY = "tgp_v1_TestKey0123456789"
URL = "https://api.together.ai/v1/images/generations"


def answer(item: dict[str, Any], model: str = "black-forest-labs/FLUX.1-schnell") -> dict[str, Any]:
    return {"id": "oFuwv7Y-2kFHot-99170ebf9e84e0ce-SJC", "model": model, "object": "list", "data": [item]}


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def together() -> Iterator[TogetherProvider]:
    provider = TogetherProvider(KEY, ProviderOptions(resolver=public_resolver))
    yield provider
    provider.close()


def test_schnell_base64(router: respx.MockRouter, together: TogetherProvider) -> None:
    route = router.post(URL).mock(
        return_value=httpx.Response(
            200, json=answer({"index": 0, "b64_json": PNG_B64, "timings": {"inference": 0.4}})
        )
    )
    result = together.generate(make_request("fast", size=512))

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert body_of(sent) == {
        "model": "black-forest-labs/FLUX.1-schnell",
        "prompt": "a watercolor portrait of a fox, soft light",
        "n": 1,
        "width": 512,
        "height": 512,
        "seed": 424242,
        "response_format": "base64",
        "steps": 4,
    }
    assert result.image == PNG
    assert (result.provider, result.model) == ("together", "black-forest-labs/FLUX.1-schnell")
    assert result.cost_usd == pytest.approx(0.0027)


def test_url_answer_is_fetched_with_a_user_agent(
    router: respx.MockRouter, together: TogetherProvider
) -> None:
    image_url = "https://api.together.ai/shrt/DOlUmzuoPS4QpVMt"
    router.post(URL).mock(return_value=httpx.Response(200, json=answer({"index": 0, "url": image_url})))
    image = router.get(image_url).mock(return_value=png_response())
    assert together.generate(make_request()).image == PNG
    fetched = image.calls.last.request
    assert fetched.headers["User-Agent"] == "avatarflow/1.0"
    assert "Authorization" not in fetched.headers


def test_dev_uses_more_steps(router: respx.MockRouter, together: TogetherProvider) -> None:
    route = router.post(URL).mock(
        return_value=httpx.Response(200, json=answer({"index": 0, "b64_json": PNG_B64}))
    )
    together.generate(make_request("standard", size=1024))
    body = body_of(route.calls.last.request)
    assert (body["model"], body["steps"], body["width"]) == ("black-forest-labs/FLUX.1-dev", 28, 1024)


def test_nsfw_refusal_is_content_rejected(router: respx.MockRouter, together: TogetherProvider) -> None:
    router.post(URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "message": "NSFW content detected in the generated image",
                    "type": "invalid_request_error",
                }
            },
        )
    )
    with pytest.raises(ContentRejected):
        together.generate(make_request())


def test_nsfw_flag_in_a_result_is_content_rejected(
    router: respx.MockRouter, together: TogetherProvider
) -> None:
    router.post(URL).mock(
        return_value=httpx.Response(
            200, json=answer({"index": 0, "b64_json": PNG_B64, "has_nsfw_concepts": [True]})
        )
    )
    with pytest.raises(ContentRejected):
        together.generate(make_request())


def failure(
    status: int, message: str, type_: str = "invalid_request_error", **headers: str
) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"error": {"message": message, "type": type_}})


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (failure(401, "Invalid API key provided", "invalid_api_key"), ProviderAuthError),
        (failure(402, "Credit limit exceeded", "credit_limit"), ProviderAuthError),
        (failure(400, "width must be a multiple of 8"), ProviderBadRequest),
        (failure(500, "internal error", "server_error"), RetryableProviderError),
        (failure(503, "The server is overloaded", "server_error"), RetryableProviderError),
    ],
)
def test_status_mapping(
    router: respx.MockRouter, together: TogetherProvider, response: httpx.Response, error: type[ProviderError]
) -> None:
    router.post(URL).mock(return_value=response)
    with pytest.raises(error):
        together.generate(make_request())


def test_throttle_is_retryable_with_retry_after(router: respx.MockRouter, together: TogetherProvider) -> None:
    router.post(URL).mock(
        return_value=failure(429, "rate limit exceeded", "rate_limit", **{"Retry-After": "3"})
    )
    with pytest.raises(RetryableProviderError) as caught:
        together.generate(make_request())
    assert caught.value.retry_after == 3.0


def test_timeout_is_retryable(router: respx.MockRouter, together: TogetherProvider) -> None:
    router.post(URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(RetryableProviderError):
        together.generate(make_request())


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="upstream connect error"),
        httpx.Response(200, json={"data": []}),
        httpx.Response(200, json={"data": [{"index": 0}]}),
        httpx.Response(200, json=answer({"index": 0, "b64_json": "%%%not base64%%%"})),
    ],
)
def test_malformed_answers_are_provider_errors(
    router: respx.MockRouter, together: TogetherProvider, response: httpx.Response
) -> None:
    router.post(URL).mock(return_value=response)
    with pytest.raises(ProviderError):
        together.generate(make_request())


def test_url_on_a_foreign_host_is_refused(router: respx.MockRouter, together: TogetherProvider) -> None:
    router.post(URL).mock(
        return_value=httpx.Response(200, json=answer({"index": 0, "url": "https://evil.example/x"}))
    )
    evil = router.get("https://evil.example/x").mock(return_value=png_response())
    with pytest.raises(ProviderDown):
        together.generate(make_request())
    assert not evil.called
