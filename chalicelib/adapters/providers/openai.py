"""OpenAI adapter: DALL-E 3 (standard quality, 1024x1024) or gpt-image-1 (medium), no seed.

Confirmed against (via the reference search):

- OpenAI API reference "Create image" (``POST https://api.openai.com/v1/images/generations``, as
  quoted by PSAI's Get-OAIImageGeneration and the oaii R package): ``prompt``, ``model``, ``n``
  (dall-e-3: only 1), ``quality`` (``standard``|``hd`` for dall-e-3), ``response_format``
  (``url``|``b64_json``; URLs last 60 minutes), ``size`` (dall-e-3: 1024x1024, 1792x1024,
  1024x1792); there is no seed parameter.
- openai-node / openai-client-base ``Image`` type: ``b64_json`` is the default (and only) output
  for gpt-image-1, ``url`` is unsupported for it; for dall-e-2/3 ``b64_json`` only appears with
  ``response_format: "b64_json"`` (so gpt-image-1 gets no ``response_format``). gpt-image-1
  qualities are low|medium|high|auto (griptape's OpenAI driver docs).
- Errors, from issue threads quoting the API: 400 ``{"error": {"code": "content_policy_violation",
  "message": "Your request was rejected as a result of our safety system..."}}`` (DALL-E),
  400 ``code: "moderation_blocked"`` (GPT image models), and 429 ``{"error": {"type":
  "insufficient_quota", "code": "insufficient_quota"}}`` for an account without credit, which is
  not a throttle (langchain-ai/langchainjs#1929) and maps to an auth/billing error here.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx

from chalicelib.adapters.key_pool import KeyPool
from chalicelib.adapters.outbound.fetch import DEFAULT_MAX_BYTES, OPENAI_ALLOWED_HOSTS, Resolver
from chalicelib.adapters.providers.answers import as_dict, first_item
from chalicelib.adapters.providers.http_base import DEFAULT_MAX_ANSWER_BYTES, Clock, HttpProvider, Sleep
from chalicelib.adapters.providers.pricing import PriceTable
from chalicelib.ports import ProviderDown, ProviderRequest, ProviderResult

# DALL-E 3 serves any quality tier asked of it; the router decides when OpenAI is used.
OPENAI_MODELS: Mapping[str, str] = {"fast": "dall-e-3", "standard": "dall-e-3", "pro": "dall-e-3"}
OPENAI_SIZE = 1024  # the smallest square both models make; the service resizes


class OpenAIProvider(HttpProvider):
    """:class:`chalicelib.ports.ImageProvider` for OpenAI's image generations API."""

    name = "openai"
    default_allowed_hosts = OPENAI_ALLOWED_HOSTS
    default_read_timeout = 120.0  # gpt-image-1 can take close to a minute

    def __init__(
        self,
        api_key: str | KeyPool,
        *,
        base_url: str = "https://api.openai.com",
        models: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        extra_allowed_hosts: Collection[str] = (),
        resolver: Resolver | None = None,
        prices: PriceTable | None = None,
        max_image_bytes: int = DEFAULT_MAX_BYTES,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        fetch_timeout: float = 15.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(
            api_key,
            models=models or OPENAI_MODELS,
            timeout=timeout,
            transport=transport,
            extra_allowed_hosts=extra_allowed_hosts,
            resolver=resolver,
            prices=prices,
            max_image_bytes=max_image_bytes,
            max_answer_bytes=max_answer_bytes,
            fetch_timeout=fetch_timeout,
            sleep=sleep,
            clock=clock,
        )
        self._base_url = base_url.rstrip("/")

    def build_body(self, request: ProviderRequest, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "prompt": request.prompt,
            "n": 1,
            "size": f"{OPENAI_SIZE}x{OPENAI_SIZE}",
        }
        if model.startswith("gpt-image"):
            body["quality"] = "medium"  # always base64; response_format is not accepted
        else:
            body["quality"] = "standard"
            body["response_format"] = "b64_json"
        return body

    def is_billing_problem(self, status: int, payload: Any, text: str) -> bool:
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            error = payload["error"]
            if error.get("code") in ("insufficient_quota", "billing_hard_limit_reached") or error.get(
                "type"
            ) in ("insufficient_quota",):
                return True
        return super().is_billing_problem(status, payload, text)

    def _generate(self, request: ProviderRequest) -> ProviderResult:
        started = time.perf_counter()
        model = self.model_for(request.quality)
        payload = self._call_json(
            "POST", f"{self._base_url}/v1/images/generations", json_body=self.build_body(request, model)
        )
        item = as_dict(first_item(payload.get("data"), self.name, "data"), self.name, "data[0]")
        b64 = item.get("b64_json")
        url = item.get("url")
        if isinstance(b64, str) and b64:
            image = self.load_image(b64, raw_base64=True)
        elif isinstance(url, str) and url:
            image = self.load_image(url)
        else:
            raise ProviderDown(f"{self.name}: unexpected response shape (no b64_json or url)")
        return self.make_result(image, model, OPENAI_SIZE, OPENAI_SIZE, started)
