"""The stack's Hugging Face stand-in (``stack/standins/huggingface.py``) speaks the shape the
adapter is written against: driven through the adapter on the stand-in's httpx transport, under
the router's real host."""

from __future__ import annotations

import pytest

from chalicelib.adapters.providers.huggingface import HF_ROUTER_URL, HuggingFaceProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.ports import ProviderAuthError, RetryableProviderError
from stack.standins import HF_TOKEN, Shared, StandIns
from tests.unit.providers.helpers import make_request


def provider_on(standins: StandIns, token: str = HF_TOKEN) -> HuggingFaceProvider:
    return HuggingFaceProvider(token, ProviderOptions(base_url=HF_ROUTER_URL, transport=standins.transport()))


def test_the_standin_answers_png_bytes() -> None:
    provider = provider_on(StandIns(Shared((0, 0), 0.0, deliver_webhooks=False)))
    try:
        result = provider.generate(make_request("standard", size=512))
    finally:
        provider.close()
    assert result.image.startswith(b"\x89PNG")
    assert result.provider == "huggingface" and result.model == "black-forest-labs/FLUX.1-dev"


def test_the_standin_refuses_another_token() -> None:
    provider = provider_on(StandIns(Shared((0, 0), 0.0, deliver_webhooks=False)), "hf_not_the_stack_token")
    try:
        with pytest.raises(ProviderAuthError):
            provider.generate(make_request())
    finally:
        provider.close()


def test_the_standin_fails_as_a_loading_model() -> None:
    provider = provider_on(StandIns(Shared((0, 0), 1.0, deliver_webhooks=False)))
    try:
        with pytest.raises(RetryableProviderError) as raised:
            provider.generate(make_request())
    finally:
        provider.close()
    assert raised.value.retry_after == 20.0
