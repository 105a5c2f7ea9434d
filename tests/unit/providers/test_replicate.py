"""ReplicateProvider: the Prefer: wait path, the polling path and the error shapes (respx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.replicate import ReplicateProvider
from chalicelib.ports import (
    ContentRejected,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderDown,
    ProviderError,
    RetryableProviderError,
)
from tests.unit.providers.helpers import PNG, body_of, make_request, png_response, public_resolver

TOKEN = "r8_TestToken0123456789abcdefABCDEF"
API = "https://api.replicate.com"
CREATE_SCHNELL = f"{API}/v1/models/black-forest-labs/flux-schnell/predictions"
CREATE_DEV = f"{API}/v1/models/black-forest-labs/flux-dev/predictions"
PREDICTION_ID = "gm3qorzdhgbfurvjtvhg6dckhu"
GET_URL = f"{API}/v1/predictions/{PREDICTION_ID}"
OUTPUT_URL = "https://replicate.delivery/xezq/abc123/out-0.png"


def prediction(status: str, output: Any = None, error: str | None = None) -> dict[str, Any]:
    """A prediction as the API returns it."""
    return {
        "id": PREDICTION_ID,
        "model": "black-forest-labs/flux-schnell",
        "version": "dp-4d0bcc010b3049749a251855f12800be",
        "input": {"prompt": "a fox", "aspect_ratio": "1:1"},
        "logs": "",
        "output": output,
        "data_removed": False,
        "error": error,
        "status": status,
        "created_at": "2024-09-18T12:00:00.000Z",
        "urls": {
            "cancel": f"{API}/v1/predictions/{PREDICTION_ID}/cancel",
            "get": GET_URL,
            "stream": f"https://stream.replicate.com/v1/files/{PREDICTION_ID}",
        },
    }


class FakeClock:
    """A clock that the fake sleep advances: polling tests run instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def replicate(clock: FakeClock) -> Iterator[ReplicateProvider]:
    provider = ReplicateProvider(
        TOKEN,
        ProviderOptions(resolver=public_resolver, sleep=clock.sleep, clock=clock),
        deadline_seconds=30.0,
    )
    yield provider
    provider.close()


def test_prefer_wait_returns_the_finished_prediction(
    router: respx.MockRouter, replicate: ReplicateProvider
) -> None:
    create = router.post(CREATE_SCHNELL).mock(
        return_value=httpx.Response(201, json=prediction("succeeded", [OUTPUT_URL]))
    )
    image = router.get(OUTPUT_URL).mock(return_value=png_response())
    poll = router.get(GET_URL).mock(
        return_value=httpx.Response(200, json=prediction("succeeded", [OUTPUT_URL]))
    )

    result = replicate.generate(make_request("fast", size=512))

    sent = create.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Prefer"] == "wait=30"
    assert body_of(sent) == {
        "input": {
            "prompt": "a watercolor portrait of a fox, soft light",
            "aspect_ratio": "1:1",
            "seed": 424242,
            "output_format": "png",
            "num_outputs": 1,
            "go_fast": False,
            "megapixels": "0.25",
        }
    }
    assert image.called and not poll.called
    assert result.image == PNG
    assert (result.provider, result.model) == ("replicate", "black-forest-labs/flux-schnell")
    assert result.cost_usd == pytest.approx(0.003)


def test_polls_urls_get_with_backoff_until_done(
    router: respx.MockRouter, replicate: ReplicateProvider, clock: FakeClock
) -> None:
    router.post(CREATE_DEV).mock(return_value=httpx.Response(201, json=prediction("starting")))
    poll = router.get(GET_URL).mock(
        side_effect=[
            httpx.Response(200, json=prediction("processing")),
            httpx.Response(200, json=prediction("processing")),
            httpx.Response(200, json=prediction("succeeded", OUTPUT_URL)),  # a single URL string
        ]
    )
    router.get(OUTPUT_URL).mock(return_value=png_response())

    result = replicate.generate(make_request("standard", size=1024))

    assert poll.call_count == 3
    assert poll.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[0] == 0.5  # growing, bounded
    assert result.model == "black-forest-labs/flux-dev"
    assert result.cost_usd == pytest.approx(0.025)


def test_a_foreign_urls_get_is_not_followed(router: respx.MockRouter, replicate: ReplicateProvider) -> None:
    started = prediction("starting")
    started["urls"] = {"get": "https://attacker.example/steal", "cancel": "https://attacker.example/c"}
    router.post(CREATE_SCHNELL).mock(return_value=httpx.Response(201, json=started))
    attacker = router.get("https://attacker.example/steal").mock(return_value=httpx.Response(200))
    own = router.get(GET_URL).mock(
        return_value=httpx.Response(200, json=prediction("succeeded", [OUTPUT_URL]))
    )
    router.get(OUTPUT_URL).mock(return_value=png_response())

    replicate.generate(make_request())
    assert own.called and not attacker.called


def test_deadline_gives_up_and_cancels(
    router: respx.MockRouter, replicate: ReplicateProvider, clock: FakeClock
) -> None:
    router.post(CREATE_SCHNELL).mock(return_value=httpx.Response(201, json=prediction("starting")))
    router.get(GET_URL).mock(return_value=httpx.Response(200, json=prediction("processing")))
    cancel = router.post(f"{GET_URL}/cancel").mock(
        return_value=httpx.Response(200, json=prediction("canceled"))
    )
    with pytest.raises(RetryableProviderError, match="did not finish"):
        replicate.generate(make_request())
    assert cancel.called
    assert sum(clock.sleeps) <= 30.0


def test_nsfw_failure_is_content_rejected(router: respx.MockRouter, replicate: ReplicateProvider) -> None:
    failed = prediction(
        "failed", error="NSFW content detected. Try running it again, or try a different prompt."
    )
    router.post(CREATE_SCHNELL).mock(return_value=httpx.Response(201, json=failed))
    with pytest.raises(ContentRejected):
        replicate.generate(make_request())


def test_other_failures_and_cancellations_are_retryable(
    router: respx.MockRouter, replicate: ReplicateProvider
) -> None:
    route = router.post(CREATE_SCHNELL)
    route.mock(return_value=httpx.Response(201, json=prediction("failed", error="CUDA out of memory")))
    with pytest.raises(RetryableProviderError, match="CUDA out of memory"):
        replicate.generate(make_request())
    route.mock(return_value=httpx.Response(201, json=prediction("canceled")))
    with pytest.raises(RetryableProviderError):
        replicate.generate(make_request())


def test_throttle_body_gives_the_retry_delay(router: respx.MockRouter, replicate: ReplicateProvider) -> None:
    router.post(CREATE_SCHNELL).mock(
        return_value=httpx.Response(
            429, json={"detail": "Request was throttled. Expected available in 5 seconds."}
        )
    )
    with pytest.raises(RetryableProviderError) as caught:
        replicate.generate(make_request())
    assert caught.value.retry_after == 5.0


def test_throttle_header_wins(router: respx.MockRouter, replicate: ReplicateProvider) -> None:
    router.post(CREATE_SCHNELL).mock(
        return_value=httpx.Response(
            429,
            headers={"Retry-After": "12"},
            json={"detail": "Request was throttled. Expected available in 5 seconds."},
        )
    )
    with pytest.raises(RetryableProviderError) as caught:
        replicate.generate(make_request())
    assert caught.value.retry_after == 12.0


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            401,
            {
                "title": "Unauthenticated",
                "detail": "You did not pass a valid authentication token",
                "status": 401,
            },
            ProviderAuthError,
        ),
        (
            402,
            {"title": "Insufficient credit", "detail": "You have insufficient credit to run this model."},
            ProviderAuthError,
        ),
        (
            422,
            {"title": "Input validation failed", "detail": "- input.seed: Invalid type.", "status": 422},
            ProviderBadRequest,
        ),
        (
            404,
            {"title": "Not found", "detail": "The requested resource could not be found.", "status": 404},
            ProviderDown,
        ),
        (500, {"detail": "Internal server error"}, RetryableProviderError),
        (503, {"detail": "Service unavailable"}, RetryableProviderError),
    ],
)
def test_status_mapping(
    router: respx.MockRouter,
    replicate: ReplicateProvider,
    status: int,
    body: dict[str, Any],
    error: type[ProviderError],
) -> None:
    router.post(CREATE_SCHNELL).mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(error):
        replicate.generate(make_request())


def test_timeout_is_retryable(router: respx.MockRouter, replicate: ReplicateProvider) -> None:
    router.post(CREATE_SCHNELL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(RetryableProviderError):
        replicate.generate(make_request())


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(201, text="not json"),
        httpx.Response(201, json={"id": PREDICTION_ID}),  # no status
        httpx.Response(201, json=prediction("succeeded", [])),
        httpx.Response(201, json=prediction("succeeded", {"weird": True})),
    ],
)
def test_malformed_answers_are_provider_errors(
    router: respx.MockRouter, replicate: ReplicateProvider, response: httpx.Response
) -> None:
    router.post(CREATE_SCHNELL).mock(return_value=response)
    with pytest.raises(ProviderError):
        replicate.generate(make_request())


def test_expired_output_url_is_retryable(router: respx.MockRouter, replicate: ReplicateProvider) -> None:
    router.post(CREATE_SCHNELL).mock(
        return_value=httpx.Response(201, json=prediction("succeeded", [OUTPUT_URL]))
    )
    router.get(OUTPUT_URL).mock(return_value=httpx.Response(404, text="Not Found"))
    with pytest.raises(RetryableProviderError):
        replicate.generate(make_request())


def test_token_is_scrubbed(router: respx.MockRouter, replicate: ReplicateProvider) -> None:
    router.post(CREATE_SCHNELL).mock(return_value=httpx.Response(401, json={"detail": f"bad token {TOKEN}"}))
    with pytest.raises(ProviderAuthError) as caught:
        replicate.generate(make_request())
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(replicate)


def test_prefer_wait_is_capped_at_60() -> None:
    provider = ReplicateProvider(TOKEN, wait_seconds=600)
    assert provider._wait_seconds == 60


# -- issue 24: every documented status, go_fast and megapixels ------------------------------------


def test_an_aborted_prediction_ends_the_call_at_once_and_fails_over(
    router: respx.MockRouter, replicate: ReplicateProvider, clock: FakeClock
) -> None:
    """``aborted`` (past its deadline before it could start) is final: no poll until our deadline."""
    router.post(CREATE_SCHNELL).mock(return_value=httpx.Response(201, json=prediction("starting")))
    poll = router.get(GET_URL).mock(return_value=httpx.Response(200, json=prediction("aborted")))
    with pytest.raises(RetryableProviderError, match="aborted") as caught:
        replicate.generate(make_request("fast"))
    assert poll.call_count == 1
    assert sum(clock.sleeps) < 1.0  # one poll interval, not the 30 s deadline
    assert caught.value.vendor_request_id == PREDICTION_ID


def test_starting_after_the_wait_then_processing_then_succeeded(
    router: respx.MockRouter, replicate: ReplicateProvider
) -> None:
    """``Prefer: wait`` may answer before the prediction ends: ``starting`` is polled to the end."""
    router.post(CREATE_SCHNELL).mock(return_value=httpx.Response(201, json=prediction("starting")))
    router.get(GET_URL).mock(
        side_effect=[
            httpx.Response(200, json=prediction("processing")),
            httpx.Response(200, json=prediction("succeeded", [OUTPUT_URL])),
        ]
    )
    router.get(OUTPUT_URL).mock(return_value=png_response())
    assert replicate.generate(make_request("fast")).image == PNG


@pytest.mark.parametrize("status", ["exploded", "", None, 7])
def test_an_unknown_status_is_provider_down_with_the_prediction_id_not_a_poll(
    router: respx.MockRouter, replicate: ReplicateProvider, clock: FakeClock, status: Any
) -> None:
    router.post(CREATE_SCHNELL).mock(return_value=httpx.Response(201, json=prediction("starting")))
    poll = router.get(GET_URL).mock(
        return_value=httpx.Response(200, json={**prediction("x"), "status": status})
    )
    with pytest.raises(ProviderDown, match="unexpected prediction status") as caught:
        replicate.generate(make_request("fast"))
    assert poll.call_count == 1 and len(clock.sleeps) == 1
    assert caught.value.vendor_request_id == PREDICTION_ID


@pytest.mark.parametrize(
    ("size", "megapixels", "cost"), [(512, "0.25", 0.003), (256, "0.25", 0.003), (1024, "1", 0.003)]
)
def test_go_fast_is_off_and_megapixels_match_the_size(
    router: respx.MockRouter, replicate: ReplicateProvider, size: int, megapixels: str, cost: float
) -> None:
    """go_fast (Replicate's default) gives different pictures for one seed; 512 px is 0.25 MP."""
    create = router.post(CREATE_SCHNELL).mock(
        return_value=httpx.Response(201, json=prediction("succeeded", [OUTPUT_URL]))
    )
    router.get(OUTPUT_URL).mock(return_value=png_response())
    result = replicate.generate(make_request("fast", size=size))
    sent = body_of(create.calls.last.request)["input"]
    assert sent["go_fast"] is False
    assert sent["megapixels"] == megapixels
    assert result.cost_usd == pytest.approx(cost)


def test_the_same_request_sends_the_same_input() -> None:
    """What the cache relies on: one request, one input (seed included), every time."""
    provider = ReplicateProvider(TOKEN)
    assert provider.build_input(make_request("standard", size=512)) == provider.build_input(
        make_request("standard", size=512)
    )
    provider.close()
