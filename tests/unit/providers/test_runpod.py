"""RunPodProvider: runsync, polling, worker output shapes, /run with a webhook (respx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.runpod import RunPodProvider
from chalicelib.ports import (
    ContentRejected,
    ProviderAuthError,
    ProviderDown,
    ProviderError,
    RetryableProviderError,
)
from tests.unit.providers.helpers import (
    PNG,
    PNG_B64,
    PNG_DATA_URI,
    body_of,
    make_request,
    png_response,
    public_resolver,
)

KEY = "rpa_TESTKEY0123456789ABCDEF"
ENDPOINT = "vllm-abc123xyz"
BASE = f"https://api.runpod.ai/v2/{ENDPOINT}"
JOB_ID = "sync-5e2bcf64-4e3c-4a5f-a1d5-1a2b3c4d5e6f-u1"
BUCKET_URL = "https://avatars-out.s3.us-east-1.amazonaws.com/jobs/out.png"


def job(status: str, output: Any = None, error: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": JOB_ID, "status": status, "delayTime": 812, "executionTime": 2310}
    if output is not None:
        body["output"] = output
    if error is not None:
        body["error"] = error
    return body


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
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
def runpod(clock: FakeClock) -> Iterator[RunPodProvider]:
    provider = RunPodProvider(
        KEY,
        ENDPOINT,
        ProviderOptions(
            extra_allowed_hosts=("*.s3.us-east-1.amazonaws.com",),
            resolver=public_resolver,
            sleep=clock.sleep,
            clock=clock,
        ),
        deadline_seconds=20.0,
    )
    yield provider
    provider.close()


def test_runsync_completed_with_a_list_of_base64_images(
    router: respx.MockRouter, runpod: RunPodProvider
) -> None:
    route = router.post(f"{BASE}/runsync").mock(
        return_value=httpx.Response(200, json=job("COMPLETED", [{"image": PNG_B64, "seed": 424242}]))
    )
    result = runpod.generate(make_request("fast", size=512))

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.url.params["wait"] == "30000"
    assert body_of(sent) == {
        "input": {
            "prompt": "a watercolor portrait of a fox, soft light",
            "seed": 424242,
            "width": 512,
            "height": 512,
            "num_inference_steps": 4,
        }
    }
    assert result.image == PNG
    assert (result.provider, result.model, result.cost_usd) == ("runpod", "flux-schnell", 0.0)


@pytest.mark.parametrize(
    "output",
    [
        {"image": PNG_DATA_URI},
        {"images": [PNG_B64]},
        {"images": [{"image": PNG_B64}]},
        PNG_B64,
    ],
)
def test_supported_worker_output_shapes(
    router: respx.MockRouter, runpod: RunPodProvider, output: Any
) -> None:
    router.post(f"{BASE}/runsync").mock(return_value=httpx.Response(200, json=job("COMPLETED", output)))
    assert runpod.generate(make_request()).image == PNG


def test_url_output_on_a_configured_host(router: respx.MockRouter, runpod: RunPodProvider) -> None:
    router.post(f"{BASE}/runsync").mock(
        return_value=httpx.Response(200, json=job("COMPLETED", {"images": [BUCKET_URL]}))
    )
    image = router.get(BUCKET_URL).mock(return_value=png_response())
    assert runpod.generate(make_request()).image == PNG
    assert image.called


def test_url_output_on_an_unconfigured_host_is_refused(
    router: respx.MockRouter, runpod: RunPodProvider
) -> None:
    router.post(f"{BASE}/runsync").mock(
        return_value=httpx.Response(200, json=job("COMPLETED", {"image": "https://10.0.0.5/x.png"}))
    )
    internal = router.get("https://10.0.0.5/x.png").mock(return_value=png_response())
    with pytest.raises(ProviderDown):
        runpod.generate(make_request())
    assert not internal.called


def test_in_queue_is_polled_until_completed(
    router: respx.MockRouter, runpod: RunPodProvider, clock: FakeClock
) -> None:
    router.post(f"{BASE}/runsync").mock(return_value=httpx.Response(200, json=job("IN_QUEUE")))
    status = router.get(f"{BASE}/status/{JOB_ID}").mock(
        side_effect=[
            httpx.Response(200, json=job("IN_PROGRESS")),
            httpx.Response(200, json=job("COMPLETED", [{"image": PNG_B64}])),
        ]
    )
    result = runpod.generate(make_request("standard", size=1024))
    assert status.call_count == 2
    assert clock.sleeps == [0.5, 0.75]
    assert result.model == "flux-dev"


def test_deadline_cancels_the_job(router: respx.MockRouter, runpod: RunPodProvider) -> None:
    router.post(f"{BASE}/runsync").mock(return_value=httpx.Response(200, json=job("IN_QUEUE")))
    router.get(f"{BASE}/status/{JOB_ID}").mock(return_value=httpx.Response(200, json=job("IN_PROGRESS")))
    cancel = router.post(f"{BASE}/cancel/{JOB_ID}").mock(
        return_value=httpx.Response(200, json=job("CANCELLED"))
    )
    with pytest.raises(RetryableProviderError, match="did not finish"):
        runpod.generate(make_request())
    assert cancel.called


def test_failed_with_nsfw_is_content_rejected(router: respx.MockRouter, runpod: RunPodProvider) -> None:
    router.post(f"{BASE}/runsync").mock(
        return_value=httpx.Response(
            200, json=job("FAILED", error="NSFW content detected. Try a different prompt.")
        )
    )
    with pytest.raises(ContentRejected):
        runpod.generate(make_request())


@pytest.mark.parametrize(
    "answer",
    [job("FAILED", error="CUDA error: out of memory"), job("TIMED_OUT"), job("CANCELLED")],
)
def test_other_endings_are_retryable(
    router: respx.MockRouter, runpod: RunPodProvider, answer: dict[str, Any]
) -> None:
    router.post(f"{BASE}/runsync").mock(return_value=httpx.Response(200, json=answer))
    with pytest.raises(RetryableProviderError):
        runpod.generate(make_request())


def test_worker_nsfw_flag_is_content_rejected(router: respx.MockRouter, runpod: RunPodProvider) -> None:
    router.post(f"{BASE}/runsync").mock(
        return_value=httpx.Response(
            200, json=job("COMPLETED", {"images": [PNG_B64], "has_nsfw_concepts": [True]})
        )
    )
    with pytest.raises(ContentRejected):
        runpod.generate(make_request())


def test_submit_with_a_webhook(router: respx.MockRouter, runpod: RunPodProvider) -> None:
    route = router.post(f"{BASE}/run").mock(
        return_value=httpx.Response(
            200, json={"id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890-u1", "status": "IN_QUEUE"}
        )
    )
    webhook = "https://api.avatarflow.example/v1/webhooks/runpod?job=g1&token=per-job-secret"
    assert runpod.submit(make_request(), webhook) == "a1b2c3d4-e5f6-7890-abcd-ef1234567890-u1"
    body = body_of(route.calls.last.request)
    assert body["webhook"] == webhook
    assert body["input"]["seed"] == 424242


def test_input_extra_is_merged() -> None:
    provider = RunPodProvider(KEY, ENDPOINT, input_extra={"guidance_scale": 0, "num_inference_steps": 6})
    worker_input = provider.build_input(make_request(), "flux-schnell")
    assert worker_input["guidance_scale"] == 0
    assert worker_input["num_inference_steps"] == 6


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ProviderAuthError),
        (402, ProviderAuthError),
        (429, RetryableProviderError),
        (500, RetryableProviderError),
    ],
)
def test_status_mapping(
    router: respx.MockRouter, runpod: RunPodProvider, status: int, error: type[ProviderError]
) -> None:
    router.post(f"{BASE}/runsync").mock(
        return_value=httpx.Response(status, headers={"Retry-After": "2"}, json={"error": "nope"})
    )
    with pytest.raises(error):
        runpod.generate(make_request())


def test_timeout_is_retryable(router: respx.MockRouter, runpod: RunPodProvider) -> None:
    router.post(f"{BASE}/runsync").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(RetryableProviderError):
        runpod.generate(make_request())


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>502</html>"),
        httpx.Response(200, json={"id": JOB_ID}),
        httpx.Response(200, json=job("COMPLETED", {"nothing": "here"})),
        httpx.Response(200, json=job("COMPLETED", [])),
        httpx.Response(200, json=job("IN_QUEUE") | {"id": "../../etc"}),
    ],
)
def test_malformed_answers_are_provider_errors(
    router: respx.MockRouter, runpod: RunPodProvider, response: httpx.Response
) -> None:
    router.post(f"{BASE}/runsync").mock(return_value=response)
    with pytest.raises(ProviderError):
        runpod.generate(make_request())


def test_endpoint_id_is_required() -> None:
    with pytest.raises(ValueError):
        RunPodProvider(KEY, "")
