"""The image provider contract: one suite, run on every ImageProvider adapter.

- ``procedural``: the offline renderer (no network at all);
- ``fal``, ``together``, ``replicate``, ``runpod``, ``openai``: the HTTP vendors, through a respx
  router that refuses unknown URLs, with the real answer shapes of ``tests/unit/providers``.
  Replicate and RunPod run their asynchronous flow: started, polled while running, then done.

Time is a fake clock: the vendors' sleeps advance it, and it can tick on every read.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
from PIL import Image

from chalicelib.adapters.providers.fal import FalProvider
from chalicelib.adapters.providers.http_base import HttpProvider
from chalicelib.adapters.providers.openai import OpenAIProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.procedural import RENDER_SIZE, ProceduralProvider
from chalicelib.adapters.providers.replicate import ReplicateProvider
from chalicelib.adapters.providers.runpod import RunPodProvider
from chalicelib.adapters.providers.together import TogetherProvider
from chalicelib.ports import ImageProvider, ProviderError, ProviderRequest, ProviderResult
from tests.unit.providers import test_fal as fal
from tests.unit.providers import test_openai as openai
from tests.unit.providers import test_replicate as replicate
from tests.unit.providers import test_runpod as runpod
from tests.unit.providers import test_together as together
from tests.unit.providers.helpers import PNG_B64, make_request, png_response, public_resolver

Answer = tuple[int, Any]  # status, JSON body
QUALITIES = ("fast", "standard", "pro", "ultra")
S3 = ("*.s3.us-east-1.amazonaws.com",)  # where our RunPod worker puts its images
OPENAI_REFUSAL = "Your request was rejected as a result of our safety system."


class FakeClock:
    """Monotonic time that sleeps advance, and that can tick on every read."""

    def __init__(self) -> None:
        self.now = 0.0
        self.tick = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


@dataclass(frozen=True)
class Vendor:
    key: str
    model: str  # the model for a "fast" request
    start: str  # the POST that starts a generation
    image_url: str  # where its finished answer says the image is
    make: Callable[[FakeClock], HttpProvider]
    done: Callable[[str], Answer]  # the finished answer, naming an image URL
    refused: Answer  # the answer to a flagged output or prompt
    error: Callable[[str], Any]  # the vendor's error body around a message
    poll: tuple[str, Answer, Answer] | None = None  # while it runs: (URL polled, start answer, poll answer)
    inline: bool = False  # the image always comes in the answer (base64): there is no download


def _options(clock: FakeClock, **more: Any) -> ProviderOptions:
    return ProviderOptions(resolver=public_resolver, sleep=clock.sleep, clock=clock, **more)


VENDORS: dict[str, Vendor] = {
    "fal": Vendor(
        fal.KEY,
        "fal-ai/flux/schnell",
        fal.SCHNELL,
        "https://v3.fal.media/files/koala/abc123.png",
        make=lambda clock: FalProvider(fal.KEY, _options(clock)),
        done=lambda url: (200, fal.fal_result(url)),
        refused=(200, fal.fal_result("https://v3.fal.media/files/koala/abc123.png", nsfw=True)),
        error=lambda message: {"detail": message},
    ),
    "together": Vendor(
        together.KEY,
        "black-forest-labs/FLUX.1-schnell",
        together.URL,
        "https://api.together.ai/shrt/DOlUmzuoPS4QpVMt",
        make=lambda clock: TogetherProvider(together.KEY, _options(clock)),
        done=lambda url: (200, together.answer({"index": 0, "url": url})),
        refused=(200, together.answer({"index": 0, "b64_json": PNG_B64, "has_nsfw_concepts": [True]})),
        error=lambda message: {"error": {"message": message, "type": "invalid_request_error"}},
    ),
    "replicate": Vendor(
        replicate.TOKEN,
        "black-forest-labs/flux-schnell",
        replicate.CREATE_SCHNELL,
        replicate.OUTPUT_URL,
        make=lambda clock: ReplicateProvider(replicate.TOKEN, _options(clock)),
        done=lambda url: (200, replicate.prediction("succeeded", [url])),
        refused=(200, replicate.prediction("failed", error="NSFW content detected. Try running it again.")),
        error=lambda message: {"title": "Error", "detail": message},
        poll=(
            replicate.GET_URL,
            (201, replicate.prediction("starting")),
            (200, replicate.prediction("processing")),
        ),
    ),
    "runpod": Vendor(
        runpod.KEY,
        "flux-schnell",
        f"{runpod.BASE}/runsync",
        runpod.BUCKET_URL,
        make=lambda clock: RunPodProvider(
            runpod.KEY, runpod.ENDPOINT, _options(clock, extra_allowed_hosts=S3)
        ),
        done=lambda url: (200, runpod.job("COMPLETED", {"images": [url]})),
        refused=(200, runpod.job("COMPLETED", {"images": [runpod.BUCKET_URL], "has_nsfw_concepts": [True]})),
        error=lambda message: {"error": message},
        poll=(
            f"{runpod.BASE}/status/{runpod.JOB_ID}",
            (200, runpod.job("IN_QUEUE")),
            (200, runpod.job("IN_PROGRESS")),
        ),
    ),
    "openai": Vendor(
        openai.KEY,
        "gpt-image-1",
        openai.URL,
        "https://unused.invalid/gpt-image-answers-are-base64.png",
        make=lambda clock: OpenAIProvider(openai.KEY, _options(clock)),
        done=lambda url: (200, openai.gpt_image_answer()),
        refused=(400, openai.error("moderation_blocked", OPENAI_REFUSAL, "image_generation_user_error")),
        error=lambda message: openai.error(None, message),
        inline=True,
    ),
}


def respond(answer: Answer) -> httpx.Response:
    return httpx.Response(answer[0], json=answer[1])


@dataclass
class Subject:
    """An adapter under test, with its vendor's answers (``vendor`` is None for the renderer)."""

    provider: ImageProvider
    vendor: Vendor | None
    router: respx.MockRouter

    def arrange(self, final: Answer | None = None, on_final: Callable[[], None] | None = None) -> None:
        """The vendor's whole flow, ending in ``final`` (its finished answer by default)."""
        vendor = self.vendor
        if vendor is None:
            return
        final = final or vendor.done(vendor.image_url)
        polls = itertools.count(1)

        def finish(request: httpx.Request) -> httpx.Response:
            if on_final is not None:
                on_final()
            return respond(final)

        if vendor.poll is None:
            self.router.post(vendor.start).mock(side_effect=finish)
        else:
            url, started, running = vendor.poll
            self.router.post(vendor.start).mock(return_value=respond(started))
            self.router.get(url).mock(
                side_effect=lambda r: finish(r) if next(polls) > 1 else respond(running)
            )
        self.router.get(vendor.image_url).mock(return_value=png_response())

    @property
    def api(self) -> Vendor:
        assert self.vendor is not None, "an HTTP vendor only"
        return self.vendor

    def start(self) -> respx.Route:
        return self.router.post(self.api.start)

    def downloaded(self) -> bool:
        images = {self.vendor.image_url} if self.vendor else set()
        return any(str(call.request.url) in images for call in self.router.calls)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["procedural", *VENDORS])
def subject(request: pytest.FixtureRequest, router: respx.MockRouter, clock: FakeClock) -> Iterator[Subject]:
    """Every adapter; a test narrows it with ``parametrize("subject", ..., indirect=True)``."""
    if request.param == "procedural":
        yield Subject(ProceduralProvider(), None, router)
        return
    provider = VENDORS[request.param].make(clock)
    yield Subject(provider, VENDORS[request.param], router)
    provider.close()


http_only = pytest.mark.parametrize("subject", list(VENDORS), indirect=True)


def generate_error(subject: Subject, request: ProviderRequest | None = None, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        subject.provider.generate(request or make_request(), **kwargs)
    return caught.value


# --------------------------------------------------------------------------------------------
# The contract, for every adapter
# --------------------------------------------------------------------------------------------


def test_success_is_a_result_whose_image_decodes(subject: Subject) -> None:
    subject.arrange()
    result = subject.provider.generate(make_request("fast", size=512))
    assert isinstance(result, ProviderResult)
    assert result.provider == subject.provider.name
    assert result.model == (subject.vendor.model if subject.vendor else "procedural-v1")
    assert math.isfinite(result.cost_usd) and result.cost_usd >= 0
    assert result.latency_ms >= 0
    side = 8 if subject.vendor else RENDER_SIZE  # the vendors' tiny PNG; the renderer's own size
    picture = result.picture or Image.open(io.BytesIO(result.image)).convert("RGB")  # decoded whole
    assert picture.size == (side, side)
    assert subject.downloaded() is (subject.vendor is not None and not subject.vendor.inline)


def test_a_refusal_is_typed_and_nothing_is_downloaded(subject: Subject) -> None:
    """A flagged output is ``content_rejected``; the renderer refuses a style it does not know."""
    subject.arrange(subject.vendor.refused if subject.vendor else None)
    request = make_request()
    if subject.vendor is None:
        request = ProviderRequest("no-such-style", "a portrait", "", 0, 1, 512, "fast")
    error = generate_error(subject, request)
    assert error.kind == ("content_rejected" if subject.vendor else "bad_request")
    assert not subject.downloaded()


def test_candidates_supports_and_vendors_agree(subject: Subject) -> None:
    provider = subject.provider
    assert ImageProvider in type(provider).__mro__
    assert provider.vendors == ((provider.name,) if subject.vendor else ())
    assert provider.supports("fast")
    for quality in QUALITIES:
        candidates = list(provider.candidates(quality))
        assert candidates == ([provider] if provider.supports(quality) else []), quality
        if not candidates:  # asked anyway, it refuses without calling anyone
            assert generate_error(subject, make_request(quality)).kind == "bad_request"
    assert not subject.router.calls


# --------------------------------------------------------------------------------------------
# The HTTP vendors: answers mapped onto the error kinds, and deadlines
# --------------------------------------------------------------------------------------------


@http_only
@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_auth_and_never_shows(subject: Subject, status: int) -> None:
    key = subject.api.key
    subject.start().mock(
        return_value=httpx.Response(status, json=subject.api.error(f"Invalid API key: {key}"))
    )
    error = generate_error(subject)
    assert error.kind == "auth"
    assert key not in str(error) and key not in repr(error.args)
    assert str(status) in str(error)


@http_only
def test_a_throttle_is_retryable_after_the_retry_after(subject: Subject) -> None:
    throttled = subject.api.error("Too many requests, slow down")
    subject.start().mock(return_value=httpx.Response(429, headers={"Retry-After": "7"}, json=throttled))
    error = generate_error(subject)
    assert error.kind == "retryable"
    assert error.retry_after == 7.0


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json={"detail": "Internal server error"}),
        httpx.Response(502, headers={"Content-Type": "text/html"}, text="<html>502 Bad Gateway</html>"),
        httpx.Response(503, json={"error": {"message": "The server is overloaded"}}),
    ],
    ids=["500", "502-html", "503"],
)
@http_only
def test_a_server_error_is_retryable_or_down(subject: Subject, response: httpx.Response) -> None:
    subject.start().mock(return_value=response)
    assert generate_error(subject).kind in ("retryable", "down")


@http_only
def test_a_timeout_is_retryable(subject: Subject) -> None:
    subject.start().mock(side_effect=httpx.ReadTimeout("read timed out"))
    assert generate_error(subject).kind == "retryable"


@http_only
def test_a_spent_deadline_fails_fast_without_a_call(subject: Subject, clock: FakeClock) -> None:
    subject.arrange()
    clock.tick = 0.01  # time passes between reads: 0.001 s is gone before the first call
    error = generate_error(subject, within_s=0.001)
    assert error.kind == "retryable"
    assert not subject.router.calls


@pytest.mark.parametrize(
    "subject", [name for name, vendor in VENDORS.items() if not vendor.inline], indirect=True
)
def test_a_deadline_that_passes_during_the_answer_stops_before_the_download(
    subject: Subject, clock: FakeClock
) -> None:
    """The vendor answers at last, after the caller's deadline: no image download starts then."""
    subject.arrange(on_final=lambda: clock.advance(6.0))
    error = generate_error(subject, within_s=5.0)
    assert error.kind == "retryable"
    assert not subject.downloaded()


@pytest.mark.parametrize("subject", [name for name, vendor in VENDORS.items() if vendor.poll], indirect=True)
def test_polling_gives_up_by_the_deadline(subject: Subject, clock: FakeClock) -> None:
    """A job that keeps running: the poller never sleeps past what ``within_s`` allows."""
    assert subject.api.poll is not None
    url, started, running = subject.api.poll
    subject.start().mock(return_value=respond(started))
    polls = subject.router.get(url).mock(return_value=respond(running))
    subject.router.post(url__regex=r"/cancel").mock(return_value=respond(running))  # giving up may cancel
    error = generate_error(subject, within_s=3.0)
    assert error.kind == "retryable"
    assert polls.called
    assert sum(clock.sleeps) <= 3.0, clock.sleeps
    assert not subject.downloaded()
