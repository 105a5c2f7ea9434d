"""OpenAI adapter: the GPT Image models (``gpt-image-1`` by default) at 1024x1024, no seed.

DALL-E 3 (and DALL-E 2) have been shut down and removed from the API: a call naming them answers
``model_not_found``. The vendor's shape, as documented (checked 2026-12-07):

- Request, ``POST https://api.openai.com/v1/images/generations`` (OpenAI API reference "Create
  image"; openai/openai-python ``src/openai/types/image_generate_params.py``): ``prompt``,
  ``model`` (``gpt-image-1``, ``gpt-image-1-mini``, ``gpt-image-1.5``), ``n``, ``size``
  (``1024x1024``, ``1536x1024``, ``1024x1536`` or ``auto``), ``quality`` (``low``, ``medium``,
  ``high`` or ``auto``), ``output_format`` (``png``, ``jpeg``, ``webp``), ``moderation``
  (``auto``, ``low``). ``response_format`` is not accepted by the GPT Image models: they always
  answer base64. There is no seed parameter.
- Answer (openai-python ``types/images_response.py``): ``{"created", "data": [{"b64_json",
  "revised_prompt"?}], "background"?, "output_format"?, "quality"?, "size"?, "usage"?}``; the
  request id is the ``x-request-id`` header.
- Errors (``{"error": {"message", "type", "param", "code"}}``): 404 ``code: "model_not_found"``
  ("The model `x` does not exist or you do not have access to it.") -> :class:`ProviderMisconfigured`
  (the breaker opens, an operator alert is raised); 400 ``code: "moderation_blocked"`` (GPT Image)
  or ``content_policy_violation`` -> :class:`ContentRejected`; 429 ``insufficient_quota`` (an
  account without credit, not a throttle: langchain-ai/langchainjs#1929) -> an auth error.
- Prices: per image by quality and size (OpenAI's pricing page; see ``pricing.py``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import httpx

from chalicelib.adapters.key_pool import KeyPool
from chalicelib.adapters.outbound.fetch import OPENAI_ALLOWED_HOSTS
from chalicelib.adapters.providers.answers import as_dict, first_item
from chalicelib.adapters.providers.http_base import HttpProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.ports import (
    ProviderDown,
    ProviderError,
    ProviderMisconfigured,
    ProviderRequest,
    ProviderResult,
)

# The router sends only ``pro`` here (its failover) by default, but every quality has a model.
OPENAI_MODELS: Mapping[str, str] = {"fast": "gpt-image-1", "standard": "gpt-image-1", "pro": "gpt-image-1"}
# GPT Image quality per tier: ``medium`` for pro costs what DALL-E 3 standard did ($0.042 against
# $0.04 at 1024x1024) for a picture that is resized to at most 1024 px anyway; ``high`` is 4x that.
OPENAI_QUALITIES: Mapping[str, str] = {"fast": "low", "standard": "medium", "pro": "medium"}
OPENAI_SIZE = 1024  # the smallest square the GPT Image models make; the service resizes
MODEL_NOT_FOUND = "model_not_found"


class OpenAIProvider(HttpProvider):
    """:class:`chalicelib.ports.ImageProvider` for OpenAI's image generations API."""

    name = "openai"
    default_allowed_hosts = OPENAI_ALLOWED_HOSTS
    default_read_timeout = 120.0  # gpt-image-1 can take close to a minute
    default_base_url = "https://api.openai.com"
    default_models = OPENAI_MODELS

    def __init__(
        self,
        api_key: str | KeyPool,
        options: ProviderOptions | None = None,
        *,
        qualities: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(api_key, options)
        self._qualities = dict(qualities or OPENAI_QUALITIES)

    def quality_for(self, quality: str) -> str:
        """The GPT Image ``quality`` for one of our tiers."""
        return self._qualities.get(quality, "medium")

    def build_body(self, request: ProviderRequest, model: str) -> dict[str, Any]:
        return {
            "model": model,
            "prompt": request.prompt,
            "n": 1,
            "size": f"{OPENAI_SIZE}x{OPENAI_SIZE}",
            "quality": self.quality_for(request.quality),
            "output_format": "png",
        }

    def price_key(self, model: str, quality: str) -> str:
        """The spend guard's key for one image: the price depends on quality and size."""
        return f"{model} {quality} {OPENAI_SIZE}x{OPENAI_SIZE}"

    def is_billing_problem(self, status: int, payload: Any, text: str) -> bool:
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            error = payload["error"]
            if error.get("code") in ("insufficient_quota", "billing_hard_limit_reached") or error.get(
                "type"
            ) in ("insufficient_quota",):
                return True
        return super().is_billing_problem(status, payload, text)

    def _error_for(self, response: httpx.Response) -> ProviderError:
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict) and error.get("code") == MODEL_NOT_FOUND:
            message = self._scrub(str(error.get("message") or "model not found"))[:300]
            return ProviderMisconfigured(f"{self.name}: HTTP {response.status_code}: {message}")
        return super()._error_for(response)

    def _generate(self, request: ProviderRequest) -> ProviderResult:
        started = time.perf_counter()
        model = self.model_for(request.quality)
        body = self.build_body(request, model)
        payload = self._call_json("POST", f"{self._base_url}/v1/images/generations", json_body=body)
        item = as_dict(first_item(payload.get("data"), self.name, "data"), self.name, "data[0]")
        b64 = item.get("b64_json")
        if not isinstance(b64, str) or not b64:
            raise ProviderDown(f"{self.name}: unexpected response shape (no b64_json)")
        image = self.load_image(b64, raw_base64=True)
        result = self.make_result(image, model, OPENAI_SIZE, OPENAI_SIZE, started)
        cost = self._prices.cost_usd(
            self.name, self.price_key(model, body["quality"]), OPENAI_SIZE, OPENAI_SIZE
        )
        return dataclasses.replace(result, cost_usd=cost)
