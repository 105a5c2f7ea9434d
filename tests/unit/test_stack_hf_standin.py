"""The stack's Hugging Face stand-in speaks the shape the adapter is written against."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from chalicelib.adapters.providers.huggingface import HuggingFaceProvider
from chalicelib.ports import ProviderAuthError, RetryableProviderError
from stack.providers import HF_TOKEN, Vendors, _Server
from tests.unit.providers.helpers import make_request


def serve(failure_rate: float) -> Iterator[str]:
    vendors = Vendors((0, 0), failure_rate, seed=1)
    server = _Server(("127.0.0.1", 0), vendors)
    vendors.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{vendors.base_url}/hf"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def standin() -> Iterator[str]:
    yield from serve(0.0)


@pytest.fixture
def failing_standin() -> Iterator[str]:
    yield from serve(1.0)


def test_the_standin_answers_png_bytes(standin: str) -> None:
    provider = HuggingFaceProvider(HF_TOKEN, base_url=standin)
    try:
        result = provider.generate(make_request("standard", size=512))
    finally:
        provider.close()
    assert result.image.startswith(b"\x89PNG")
    assert result.provider == "huggingface" and result.model == "black-forest-labs/FLUX.1-dev"


def test_the_standin_refuses_another_token(standin: str) -> None:
    provider = HuggingFaceProvider("hf_not_the_stack_token", base_url=standin)
    try:
        with pytest.raises(ProviderAuthError):
            provider.generate(make_request())
    finally:
        provider.close()


def test_the_standin_fails_as_a_loading_model(failing_standin: str) -> None:
    provider = HuggingFaceProvider(HF_TOKEN, base_url=failing_standin)
    try:
        with pytest.raises(RetryableProviderError) as raised:
            provider.generate(make_request())
    finally:
        provider.close()
    assert raised.value.retry_after == 20.0
