"""Every call of a generation ends by its ``within_s``, and answers are read under a size cap.

respx stands in for the vendors (bodies from generators are streamed, as from a socket); the
real-socket side (drips, hangs, floods on 127.0.0.1) is ``tests/functional/test_provider_deadlines.py``.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.providers.fal import FalProvider
from chalicelib.adapters.providers.http_base import DEFAULT_MAX_ANSWER_BYTES, ERROR_BODY_BYTES
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.replicate import ReplicateProvider
from chalicelib.adapters.providers.runpod import RunPodProvider
from chalicelib.adapters.providers.together import TogetherProvider
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import build_provider
from chalicelib.ports import ProviderDown, RetryableProviderError
from chalicelib.services.routing.router import ProviderRouter
from tests.conftest import make_settings
from tests.unit.providers.helpers import PNG, PNG_B64, make_request, public_resolver
from tests.unit.providers.test_replicate import GET_URL, prediction
from tests.unit.providers.test_replicate import FakeClock as PollClock
from tests.unit.providers.test_runpod import BASE as RUNPOD_BASE
from tests.unit.providers.test_runpod import ENDPOINT, JOB_ID, job

TOGETHER_URL = "https://api.together.ai/v1/images/generations"
FAL_URL = "https://fal.run/fal-ai/flux/schnell"
REPLICATE_CREATE = "https://api.replicate.com/v1/models/black-forest-labs/flux-schnell/predictions"
IMAGE_URL = "https://v3.fal.media/files/slow/out.png"
MB = 1024 * 1024


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


class Flood:
    """A streamed body of ``total`` bytes that counts what the client pulled from it."""

    def __init__(self, head: bytes, total: int, chunk: int = 64 * 1024) -> None:
        self.head, self.total, self.chunk = head, total, chunk
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        self.pulled += len(self.head)
        while self.pulled < self.total:
            piece = b"A" * min(self.chunk, self.total - self.pulled)
            self.pulled += len(piece)
            yield piece


# -- the answer cap ----------------------------------------------------------------------------


def test_a_40_mb_answer_is_refused_at_the_cap_without_being_read_whole(router: respx.MockRouter) -> None:
    flood = Flood(b'{"data": [{"index": 0, "b64_json": "', 40 * MB)
    router.post(TOGETHER_URL).mock(return_value=httpx.Response(200, content=flood))
    together = TogetherProvider("tg-key-0123456789", ProviderOptions(resolver=public_resolver))
    with pytest.raises(ProviderDown, match="larger than") as raised:
        together.generate(make_request())
    assert raised.value.kind == "down"
    assert flood.pulled <= DEFAULT_MAX_ANSWER_BYTES + flood.chunk  # stopped at the cap, not at 40 MB
    assert "tg-key" not in str(raised.value)


def test_a_declared_length_over_the_cap_is_refused_before_the_body(router: respx.MockRouter) -> None:
    flood = Flood(b"{", 10 * MB)
    router.post(TOGETHER_URL).mock(
        return_value=httpx.Response(200, headers={"Content-Length": str(10 * MB)}, content=flood)
    )
    together = TogetherProvider(
        "tg-key-0123456789", ProviderOptions(resolver=public_resolver, max_answer_bytes=MB)
    )
    with pytest.raises(ProviderDown, match="larger than 1048576 bytes"):
        together.generate(make_request())
    assert flood.pulled <= 64 * 1024  # at most what the transport had in hand


def test_an_inline_image_of_a_few_mb_fits_under_the_default_cap(router: respx.MockRouter) -> None:
    padded = PNG_B64 + "A" * (4 * MB)  # a ~3 MB image as base64: decoding is not what is tested
    router.post(TOGETHER_URL).mock(
        return_value=httpx.Response(200, json={"data": [{"index": 0, "b64_json": PNG_B64}], "pad": padded})
    )
    result = TogetherProvider("tg-key-0123456789", ProviderOptions(resolver=public_resolver)).generate(
        make_request()
    )
    assert result.image == PNG


def test_a_gzip_answer_is_inflated_and_a_gzip_bomb_refused_at_the_cap(router: respx.MockRouter) -> None:
    ok = gzip.compress(json.dumps({"data": [{"index": 0, "b64_json": PNG_B64}]}).encode())
    route = router.post(TOGETHER_URL)
    route.mock(return_value=httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=iter([ok])))
    together = TogetherProvider(
        "tg-key-0123456789", ProviderOptions(resolver=public_resolver, max_answer_bytes=MB)
    )
    assert together.generate(make_request()).image == PNG
    assert route.calls.last.request.headers["Accept-Encoding"] == "gzip, deflate"

    bomb = gzip.compress(b'{"data": "' + b"A" * (64 * MB))  # 64 KB on the wire, 64 MB inflated
    route.mock(return_value=httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=iter([bomb])))
    with pytest.raises(ProviderDown, match="larger than"):
        together.generate(make_request())


def test_a_huge_error_answer_keeps_its_status_and_is_read_only_in_part(router: respx.MockRouter) -> None:
    flood = Flood(b'{"error": {"message": "overloaded"}}' + b" " * 100, 40 * MB)
    router.post(TOGETHER_URL).mock(return_value=httpx.Response(503, content=flood))
    together = TogetherProvider("tg-key-0123456789", ProviderOptions(resolver=public_resolver))
    with pytest.raises(RetryableProviderError, match="HTTP 503"):
        together.generate(make_request())
    assert flood.pulled <= ERROR_BODY_BYTES + flood.chunk


# -- the generation's deadline -----------------------------------------------------------------


def test_every_phase_timeout_is_cut_to_the_time_left(router: respx.MockRouter) -> None:
    seen: list[dict[str, float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(200, json={"images": [{"url": f"data:image/png;base64,{PNG_B64}"}]})

    router.post(FAL_URL).mock(side_effect=answer)
    FalProvider("fal-key-0123456789", ProviderOptions(resolver=public_resolver)).generate(
        make_request(), within_s=2.5
    )
    assert seen and all(0 < value <= 2.5 for value in seen[0].values())


def test_the_image_download_stops_at_the_generation_deadline(router: respx.MockRouter) -> None:
    router.post(FAL_URL).mock(return_value=httpx.Response(200, json={"images": [{"url": IMAGE_URL}]}))

    def slow_png() -> Iterator[bytes]:
        for byte in PNG:
            time.sleep(0.1)
            yield bytes([byte])

    router.get(IMAGE_URL).mock(
        return_value=httpx.Response(200, headers={"Content-Type": "image/png"}, content=slow_png())
    )
    fal = FalProvider("fal-key-0123456789", ProviderOptions(resolver=public_resolver))  # fetch_timeout: 15 s
    started = time.monotonic()
    with pytest.raises(RetryableProviderError, match="timeout"):
        fal.generate(make_request(), within_s=0.5)
    assert time.monotonic() - started < 1.0


def test_replicate_waits_and_polls_within_the_deadline_then_cancels(router: respx.MockRouter) -> None:
    clock = PollClock()
    replicate = ReplicateProvider(
        "r8_token_0123456789",
        ProviderOptions(resolver=public_resolver, sleep=clock.sleep, clock=clock),
        deadline_seconds=90.0,
    )
    create = router.post(REPLICATE_CREATE).mock(return_value=httpx.Response(201, json=prediction("starting")))
    router.get(GET_URL).mock(return_value=httpx.Response(200, json=prediction("processing")))
    cancel = router.post(f"{GET_URL}/cancel").mock(
        return_value=httpx.Response(200, json=prediction("canceled"))
    )
    with pytest.raises(RetryableProviderError, match="did not finish within 10 s"):
        replicate.generate(make_request(), within_s=10.0)
    assert create.calls.last.request.headers["Prefer"] == "wait=5"  # answers with 5 s to spare
    assert sum(clock.sleeps) <= 10.0  # no sleep past the deadline
    assert cancel.called


def test_runpod_waits_and_polls_within_the_deadline_then_cancels(router: respx.MockRouter) -> None:
    clock = PollClock()
    runpod = RunPodProvider(
        "rpa_key_0123456789",
        ENDPOINT,
        ProviderOptions(resolver=public_resolver, sleep=clock.sleep, clock=clock),
    )
    runsync = router.post(f"{RUNPOD_BASE}/runsync").mock(
        return_value=httpx.Response(200, json=job("IN_QUEUE"))
    )
    router.get(f"{RUNPOD_BASE}/status/{JOB_ID}").mock(
        return_value=httpx.Response(200, json=job("IN_PROGRESS"))
    )
    cancel = router.post(f"{RUNPOD_BASE}/cancel/{JOB_ID}").mock(
        return_value=httpx.Response(200, json=job("CANCELLED"))
    )
    with pytest.raises(RetryableProviderError, match="did not finish within 12 s"):
        runpod.generate(make_request(), within_s=12.0)
    assert runsync.calls.last.request.url.params["wait"] == "7000"
    assert sum(clock.sleeps) <= 12.0
    assert cancel.called


# -- bootstrap ---------------------------------------------------------------------------------


def test_no_adapter_timeout_exceeds_the_routing_deadline(tmp_path: Path, store: RedisStateStore) -> None:
    settings = make_settings(
        tmp_path,
        fal_key="f",
        together_api_key="t",
        replicate_api_token="r",
        runpod_api_key="p",
        runpod_endpoint_id="abc123",
        openai_api_key="o",
        provider_deadline_seconds=2.0,
    )
    router = build_provider(settings, store.breakers)
    assert isinstance(router, ProviderRouter)
    adapters: list[Any] = [*router.candidates("fast"), *router.candidates("pro")]
    for adapter in adapters:
        timeout = adapter._timeout
        phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
        assert all(p is not None and p <= 2.0 for p in phases), (adapter.name, phases)
        assert adapter._fetch_timeout <= 2.0
