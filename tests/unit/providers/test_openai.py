"""OpenAIProvider: DALL-E 3 and gpt-image-1 request bodies, b64 results, error shapes (respx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.providers.openai import OpenAIProvider
from chalicelib.ports import (
    ContentRejected,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
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
    provider = OpenAIProvider(KEY, resolver=public_resolver)
    yield provider
    provider.close()


def test_dall_e_3_b64(router: respx.MockRouter, openai: OpenAIProvider) -> None:
    route = router.post(URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "created": 1713833628,
                "data": [{"b64_json": PNG_B64, "revised_prompt": "A watercolor fox."}],
            },
        )
    )
    result = openai.generate(make_request("pro", size=512))

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    body = body_of(sent)
    assert body == {
        "model": "dall-e-3",
        "prompt": "a watercolor portrait of a fox, soft light",
        "n": 1,
        "size": "1024x1024",
        "quality": "standard",
        "response_format": "b64_json",
    }
    assert "seed" not in body
    assert result.image == PNG
    assert (result.provider, result.model) == ("openai", "dall-e-3")
    assert result.cost_usd == pytest.approx(0.04)


def test_gpt_image_1_has_no_response_format(router: respx.MockRouter) -> None:
    provider = OpenAIProvider(KEY, models={"pro": "gpt-image-1"}, resolver=public_resolver)
    route = router.post(URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "created": 1745000000,
                "data": [{"b64_json": PNG_B64}],
                "usage": {"input_tokens": 50, "output_tokens": 1056, "total_tokens": 1106},
            },
        )
    )
    result = provider.generate(make_request("pro"))
    body = body_of(route.calls.last.request)
    assert "response_format" not in body
    assert body["quality"] == "medium"
    assert result.model == "gpt-image-1"
    assert result.cost_usd == pytest.approx(0.042)


def test_url_answer_is_fetched_from_the_blob_host(router: respx.MockRouter, openai: OpenAIProvider) -> None:
    image_url = "https://oaidalleapiprodscus.blob.core.windows.net/private/org-x/img-abc.png?st=2024&sig=SAS"
    router.post(URL).mock(return_value=httpx.Response(200, json={"created": 1, "data": [{"url": image_url}]}))
    blob = router.get(image_url).mock(return_value=png_response())
    assert openai.generate(make_request("pro")).image == PNG
    assert blob.called


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
        (400, error(None, "Invalid size: 512x512 is not supported by dall-e-3"), ProviderBadRequest),
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


def test_url_on_a_foreign_host_is_refused(router: respx.MockRouter, openai: OpenAIProvider) -> None:
    router.post(URL).mock(
        return_value=httpx.Response(200, json={"created": 1, "data": [{"url": "https://127.0.0.1/x.png"}]})
    )
    local = router.get("https://127.0.0.1/x.png").mock(return_value=png_response())
    with pytest.raises(ProviderDown):
        openai.generate(make_request("pro"))
    assert not local.called
