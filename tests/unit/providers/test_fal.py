"""FalProvider against fal's real response shapes (respx; no network)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from chalicelib.adapters.providers.fal import FalProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.ports import (
    ContentRejected,
    ImageProvider,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    RetryableProviderError,
)
from tests.unit.providers.helpers import (
    PNG,
    PNG_DATA_URI,
    body_of,
    make_request,
    png_response,
    public_resolver,
)

KEY = "fal-test-key-1234:abcdef"
SCHNELL = "https://fal.run/fal-ai/flux/schnell"
DEV = "https://fal.run/fal-ai/flux/dev"


def fal_result(url: str = PNG_DATA_URI, nsfw: bool = False, width: int = 512) -> dict[str, object]:
    """The flux/schnell output schema: images[], timings, seed, has_nsfw_concepts, prompt."""
    return {
        "images": [{"url": url, "width": width, "height": width, "content_type": "image/png"}],
        "timings": {"inference": 0.31},
        "seed": 424242,
        "has_nsfw_concepts": [nsfw],
        "prompt": "a watercolor portrait of a fox, soft light",
    }


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def fal() -> Iterator[FalProvider]:
    provider = FalProvider(KEY, ProviderOptions(resolver=public_resolver))
    yield provider
    provider.close()


def test_is_an_image_provider(fal: FalProvider) -> None:
    provider: ImageProvider = fal
    assert provider.name == "fal"
    assert fal.supports("fast") and fal.supports("standard") and fal.supports("pro")
    assert not fal.supports("ultra")


def test_sync_schnell_with_inline_data_uri(router: respx.MockRouter, fal: FalProvider) -> None:
    route = router.post(SCHNELL).mock(return_value=httpx.Response(200, json=fal_result()))
    result = fal.generate(make_request("fast", size=512))

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Key {KEY}"
    assert body_of(sent) == {
        "prompt": "a watercolor portrait of a fox, soft light",
        "image_size": "square",
        "seed": 424242,
        "num_images": 1,
        "enable_safety_checker": True,
        "sync_mode": True,
        "num_inference_steps": 4,
    }
    assert result.image == PNG
    assert (result.provider, result.model) == ("fal", "fal-ai/flux/schnell")
    assert result.cost_usd == pytest.approx(0.003)
    assert result.latency_ms > 0


def test_dev_with_a_cdn_url(router: respx.MockRouter, fal: FalProvider) -> None:
    image_url = "https://v3.fal.media/files/koala/abc123.png"
    route = router.post(DEV).mock(return_value=httpx.Response(200, json=fal_result(image_url, width=1024)))
    image = router.get(image_url).mock(return_value=png_response())
    result = fal.generate(make_request("standard", size=1024))

    body = body_of(route.calls.last.request)
    assert body["image_size"] == "square_hd"
    assert body["num_inference_steps"] == 28
    assert image.called
    assert image.calls.last.request.headers.get("Authorization") is None  # the key stays with the API
    assert result.image == PNG
    assert result.model == "fal-ai/flux/dev"
    assert result.cost_usd == pytest.approx(0.025)


def test_other_sizes_are_sent_as_width_and_height(router: respx.MockRouter, fal: FalProvider) -> None:
    route = router.post(SCHNELL).mock(return_value=httpx.Response(200, json=fal_result()))
    fal.generate(make_request("fast", size=768))
    assert body_of(route.calls.last.request)["image_size"] == {"width": 768, "height": 768}


def test_nsfw_flag_is_content_rejected_and_the_image_never_fetched(
    router: respx.MockRouter, fal: FalProvider
) -> None:
    image_url = "https://v3.fal.media/files/koala/black.png"
    router.post(SCHNELL).mock(return_value=httpx.Response(200, json=fal_result(image_url, nsfw=True)))
    image = router.get(image_url).mock(return_value=png_response())
    with pytest.raises(ContentRejected):
        fal.generate(make_request())
    assert not image.called


def test_content_policy_422_is_content_rejected(router: respx.MockRouter, fal: FalProvider) -> None:
    detail = [
        {
            "loc": ["body", "prompt"],
            "msg": "The content was flagged by a content checker.",
            "type": "content_policy_violation",
            "url": "https://docs.fal.ai/errors#content_policy_violation",
            "input": "...",
            "categories": ["sexual"],
        }
    ]
    router.post(SCHNELL).mock(return_value=httpx.Response(422, json={"detail": detail}))
    with pytest.raises(ContentRejected, match="flagged by a content checker"):
        fal.generate(make_request())


def test_validation_422_naming_the_safety_field_is_a_bad_request(
    router: respx.MockRouter, fal: FalProvider
) -> None:
    detail = [
        {"loc": ["body", "enable_safety_checker"], "msg": "value is not a valid boolean", "type": "bool"}
    ]
    router.post(SCHNELL).mock(return_value=httpx.Response(422, json={"detail": detail}))
    with pytest.raises(ProviderBadRequest):
        fal.generate(make_request())


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"detail": "Invalid API key"}),
        (
            403,
            {
                "detail": "User is locked. Reason: Exhausted balance. "
                "Top up your balance at fal.ai/dashboard/billing."
            },
        ),
        (402, {"detail": "Payment required"}),
    ],
)
def test_auth_and_credit_errors(
    router: respx.MockRouter, fal: FalProvider, status: int, body: object
) -> None:
    router.post(SCHNELL).mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(ProviderAuthError):
        fal.generate(make_request())


def test_throttled_with_retry_after(router: respx.MockRouter, fal: FalProvider) -> None:
    router.post(SCHNELL).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "Too many requests"})
    )
    with pytest.raises(RetryableProviderError) as caught:
        fal.generate(make_request())
    assert caught.value.retry_after == 7.0


def test_server_error_timeout_and_connection_errors(router: respx.MockRouter, fal: FalProvider) -> None:
    route = router.post(SCHNELL)
    route.mock(return_value=httpx.Response(500, text="Internal Server Error"))
    with pytest.raises(RetryableProviderError):
        fal.generate(make_request())
    route.mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(RetryableProviderError, match="timed out"):
        fal.generate(make_request())
    route.mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(ProviderDown):
        fal.generate(make_request())


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>gateway</html>"),
        httpx.Response(200, json={"images": []}),
        httpx.Response(200, json={"images": [{"width": 512}]}),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
)
def test_malformed_answers_are_provider_errors(
    router: respx.MockRouter, fal: FalProvider, response: httpx.Response
) -> None:
    router.post(SCHNELL).mock(return_value=response)
    with pytest.raises(ProviderError):
        fal.generate(make_request())


def test_image_on_a_foreign_host_is_never_fetched(router: respx.MockRouter, fal: FalProvider) -> None:
    router.post(SCHNELL).mock(return_value=httpx.Response(200, json=fal_result("https://169.254.169.254/x")))
    metadata = router.get("https://169.254.169.254/x").mock(return_value=png_response())
    with pytest.raises(ProviderDown):
        fal.generate(make_request())
    assert not metadata.called


def test_unsupported_quality_is_a_bad_request(fal: FalProvider) -> None:
    with pytest.raises(ProviderBadRequest):
        fal.generate(make_request("ultra"))


def test_the_key_never_shows_in_errors_or_reprs(router: respx.MockRouter, fal: FalProvider) -> None:
    router.post(SCHNELL).mock(return_value=httpx.Response(401, json={"detail": f"Key {KEY} is not valid"}))
    with pytest.raises(ProviderAuthError) as caught:
        fal.generate(make_request())
    assert KEY not in str(caught.value)
    assert KEY not in repr(fal)
    assert KEY not in repr(vars(fal))
    assert KEY not in repr(fal.client.headers)


def test_submit_to_the_queue_with_a_webhook(router: respx.MockRouter, fal: FalProvider) -> None:
    route = router.post("https://queue.fal.run/fal-ai/flux/schnell").mock(
        return_value=httpx.Response(
            200,
            json={
                "request_id": "764cabcf-b745-4b3e-ae38-1200304cf45b",
                "response_url": "https://queue.fal.run/fal-ai/flux/requests/764cabcf-b745-4b3e-ae38-1200304cf45b",
                "status_url": "https://queue.fal.run/fal-ai/flux/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/status",
                "cancel_url": "https://queue.fal.run/fal-ai/flux/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/cancel",
                "queue_position": 0,
            },
        )
    )
    webhook = "https://api.avatarflow.example/v1/webhooks/fal?job=g1"
    assert fal.submit(make_request(), webhook) == "764cabcf-b745-4b3e-ae38-1200304cf45b"
    sent = route.calls.last.request
    assert parse_qs(sent.url.query.decode())["fal_webhook"] == [webhook]
    assert sent.headers["Authorization"] == f"Key {KEY}"
    assert body_of(sent)["sync_mode"] is False

    job = fal.submit_job(make_request())
    assert job.response_url.endswith("/requests/764cabcf-b745-4b3e-ae38-1200304cf45b")
    assert "fal_webhook" not in route.calls.last.request.url.query.decode()


def test_result_uses_the_returned_url_and_only_on_the_queue_host(
    router: respx.MockRouter, fal: FalProvider
) -> None:
    response_url = "https://queue.fal.run/fal-ai/flux/requests/abc"
    router.get(response_url).mock(return_value=httpx.Response(200, json=fal_result()))
    result = fal.result(response_url, quality="fast", size=512)
    assert result.image == PNG

    elsewhere = router.get("https://attacker.example/requests/abc").mock(return_value=httpx.Response(200))
    with pytest.raises(ProviderBadRequest):
        fal.result("https://attacker.example/requests/abc")
    assert not elsewhere.called


def test_client_is_built_lazily_and_reused(router: respx.MockRouter) -> None:
    provider = FalProvider(KEY, ProviderOptions(resolver=public_resolver))
    assert provider._client is None
    router.post(SCHNELL).mock(return_value=httpx.Response(200, json=fal_result()))
    provider.generate(make_request())
    first = provider.client
    provider.generate(make_request())
    assert provider.client is first
    provider.close()


def test_mock_transport_is_used_for_api_and_image(fal: FalProvider) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "fal.run":
            return httpx.Response(200, json=fal_result("https://v3.fal.media/files/x.png"))
        return png_response()

    provider = FalProvider(
        KEY, ProviderOptions(transport=httpx.MockTransport(handler), resolver=public_resolver)
    )
    assert provider.generate(make_request()).image == PNG
    assert seen == [SCHNELL, "https://v3.fal.media/files/x.png"]


def test_result_asked_too_early_is_retryable(router: respx.MockRouter, fal: FalProvider) -> None:
    response_url = "https://queue.fal.run/fal-ai/flux/requests/abc"
    route = router.get(response_url)
    route.mock(return_value=httpx.Response(400, json={"detail": "Request is still in progress"}))
    with pytest.raises(RetryableProviderError):
        fal.result(response_url)
    route.mock(return_value=httpx.Response(202, json={"status": "IN_QUEUE", "queue_position": 2}))
    with pytest.raises(RetryableProviderError):
        fal.result(response_url)


def test_each_part_of_an_id_secret_key_is_scrubbed(router: respx.MockRouter, fal: FalProvider) -> None:
    router.post(SCHNELL).mock(
        return_value=httpx.Response(403, json={"detail": "secret abcdef1234567 rejected"})
    )
    provider = FalProvider("key-id-0001:abcdef1234567", ProviderOptions(resolver=public_resolver))
    with pytest.raises(ProviderAuthError) as caught:
        provider.generate(make_request())
    assert "abcdef1234567" not in str(caught.value)


def test_a_base_url_without_scheme_is_provider_down() -> None:
    provider = FalProvider(KEY, ProviderOptions(base_url="fal.run"))
    with pytest.raises(ProviderDown):
        provider.generate(make_request())
