"""OpenAIProvider: gpt-image-1 request bodies and prices, base64 results, error shapes (respx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.providers.openai import OpenAIProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.ports import (
    ContentRejected,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    ProviderMisconfigured,
    RetryableProviderError,
)
from tests.unit.providers.helpers import PNG, PNG_B64, body_of, make_request, png_response, public_resolver

KEY = "sk-proj-TestKey0123456789abcdef"
URL = "https://api.openai.com/v1/images/generations"


def error(code: str | None, message: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "param": None, "type": type_}}


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def openai() -> Iterator[OpenAIProvider]:
    provider = OpenAIProvider(KEY, ProviderOptions(resolver=public_resolver))
    yield provider
    provider.close()


def gpt_image_answer(quality: str = "medium") -> dict[str, Any]:
    """An answer of the GPT Image models as the API documents it (always base64)."""
    return {
        "created": 1745000000,
        "background": "opaque",
        "data": [{"b64_json": PNG_B64}],
        "output_format": "png",
        "quality": quality,
        "size": "1024x1024",
        "usage": {
            "input_tokens": 50,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 50},
            "output_tokens": 1056,
            "total_tokens": 1106,
        },
    }


def test_pro_is_gpt_image_1_medium_base64_without_response_format(
    router: respx.MockRouter, openai: OpenAIProvider
) -> None:
    route = router.post(URL).mock(
        return_value=httpx.Response(200, json=gpt_image_answer(), headers={"x-request-id": "req_abc"})
    )
    result = openai.generate(make_request("pro", size=512))

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    body = body_of(sent)
    assert body == {
        "model": "gpt-image-1",
        "prompt": "a watercolor portrait of a fox, soft light",
        "n": 1,
        "size": "1024x1024",
        "quality": "medium",
        "output_format": "png",
    }
    assert "seed" not in body and "response_format" not in body
    assert result.image == PNG
    assert (result.provider, result.model) == ("openai", "gpt-image-1")
    assert result.cost_usd == pytest.approx(0.042)


@pytest.mark.parametrize(
    ("quality", "gpt_quality", "cost"), [("fast", "low", 0.011), ("standard", "medium", 0.042)]
)
def test_each_tier_has_its_gpt_image_quality_and_price(
    router: respx.MockRouter, openai: OpenAIProvider, quality: str, gpt_quality: str, cost: float
) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200, json=gpt_image_answer(gpt_quality)))
    result = openai.generate(make_request(quality))
    assert body_of(route.calls.last.request)["quality"] == gpt_quality
    assert result.cost_usd == pytest.approx(cost)


def test_high_quality_is_priced_as_high(router: respx.MockRouter) -> None:
    provider = OpenAIProvider(KEY, ProviderOptions(resolver=public_resolver), qualities={"pro": "high"})
    route = router.post(URL).mock(return_value=httpx.Response(200, json=gpt_image_answer("high")))
    result = provider.generate(make_request("pro"))
    assert body_of(route.calls.last.request)["quality"] == "high"
    assert result.cost_usd == pytest.approx(0.167)


@pytest.mark.parametrize("status", [404, 400])
def test_model_not_found_is_a_configuration_error_with_the_request_id(
    router: respx.MockRouter, status: int
) -> None:
    provider = OpenAIProvider(KEY, ProviderOptions(models={"pro": "dall-e-3"}, resolver=public_resolver))
    router.post(URL).mock(
        return_value=httpx.Response(
            status,
            headers={"x-request-id": "req_0123456789"},
            json=error(
                "model_not_found", "The model `dall-e-3` does not exist or you do not have access to it."
            ),
        )
    )
    with pytest.raises(ProviderMisconfigured) as caught:
        provider.generate(make_request("pro"))
    assert caught.value.kind == "auth"  # the breaker opens for long and an operator is alerted
    assert caught.value.vendor_request_id == "req_0123456789"
    assert "dall-e-3" in str(caught.value)


def test_a_url_answer_is_an_unknown_shape_not_a_download(
    router: respx.MockRouter, openai: OpenAIProvider
) -> None:
    image_url = "https://oaidalleapiprodscus.blob.core.windows.net/private/org-x/img-abc.png?st=2024&sig=SAS"
    router.post(URL).mock(
        return_value=httpx.Response(
            200, headers={"x-request-id": "req_url"}, json={"created": 1, "data": [{"url": image_url}]}
        )
    )
    blob = router.get(image_url).mock(return_value=png_response())
    with pytest.raises(ProviderDown) as caught:
        openai.generate(make_request("pro"))
    assert caught.value.vendor_request_id == "req_url"
    assert not blob.called


@pytest.mark.parametrize(
    "body",
    [
        error(
            "content_policy_violation",
            "Your request was rejected as a result of our safety system. "
            "Your prompt may contain text that is not allowed by our safety system.",
        ),
        error(
            "moderation_blocked",
            "Your request was rejected by the safety system.",
            "image_generation_user_error",
        ),
    ],
)
def test_content_policy_is_content_rejected(
    router: respx.MockRouter, openai: OpenAIProvider, body: Any
) -> None:
    router.post(URL).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(ContentRejected):
        openai.generate(make_request("pro"))


def test_insufficient_quota_429_is_an_auth_error_not_a_throttle(
    router: respx.MockRouter, openai: OpenAIProvider
) -> None:
    router.post(URL).mock(
        return_value=httpx.Response(
            429,
            json=error(
                "insufficient_quota",
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
            ),
        )
    )
    with pytest.raises(ProviderAuthError):
        openai.generate(make_request("pro"))


def test_rate_limit_429_is_retryable_with_retry_after(
    router: respx.MockRouter, openai: OpenAIProvider
) -> None:
    router.post(URL).mock(
        return_value=httpx.Response(
            429,
            headers={"Retry-After": "20"},
            json=error("rate_limit_exceeded", "Rate limit reached for images per minute", "requests"),
        )
    )
    with pytest.raises(RetryableProviderError) as caught:
        openai.generate(make_request("pro"))
    assert caught.value.retry_after == 20.0


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, error("invalid_api_key", "Incorrect API key provided: sk-proj-****cdef."), ProviderAuthError),
        (400, error("billing_hard_limit_reached", "Billing hard limit has been reached"), ProviderAuthError),
        (400, error(None, "Invalid size: 512x512 is not supported by gpt-image-1"), ProviderBadRequest),
        (
            500,
            error(None, "The server had an error while processing your request.", "server_error"),
            RetryableProviderError,
        ),
    ],
)
def test_status_mapping(
    router: respx.MockRouter, openai: OpenAIProvider, status: int, body: Any, expected: type[ProviderError]
) -> None:
    router.post(URL).mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(expected):
        openai.generate(make_request("pro"))


def test_timeout_is_retryable(router: respx.MockRouter, openai: OpenAIProvider) -> None:
    router.post(URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(RetryableProviderError):
        openai.generate(make_request("pro"))


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"created": 1, "data": []}),
        httpx.Response(200, json={"created": 1, "data": [{"revised_prompt": "x"}]}),
        httpx.Response(200, json={"created": 1}),
    ],
)
def test_malformed_answers_are_provider_errors(
    router: respx.MockRouter, openai: OpenAIProvider, response: httpx.Response
) -> None:
    router.post(URL).mock(return_value=response)
    with pytest.raises(ProviderError) as caught:
        openai.generate(make_request("pro"))
    assert not isinstance(caught.value, KeyError)
