"""Hugging Face Inference Providers adapter: FLUX.1 [schnell] (fast) and FLUX.1 [dev] (standard).

The route chosen is the router's **hf-inference** provider, the one whose wire shape is the
task's own (the other providers behind the router, ``fal-ai``, ``replicate``, ``together``, speak
their vendor's API under ``{router}/{provider}/...`` with the vendor's model ids, and are already
built here directly):

    POST {HF_BASE_URL}/hf-inference/models/{model id}
    Authorization: Bearer hf_...
    {"inputs": "<prompt>", "parameters": {"width", "height", "num_inference_steps", "seed", ...}}

and the answer is the image itself (``Content-Type: image/png`` or ``image/jpeg``).

Confirmed against (via the reference search):

- huggingface_hub ``constants.INFERENCE_PROXY_TEMPLATE = "https://router.huggingface.co/{provider}"``
  and ``inference/_providers/hf_inference.py``: ``HFInferenceTask._prepare_url`` is
  ``{base_url}/models/{model}`` for every task but feature extraction, the payload is
  ``{"inputs": inputs, "parameters": filter_none(parameters)}``; the API key is a bearer token.
- ``InferenceClient.text_to_image`` parameters: ``negative_prompt``, ``height``, ``width``,
  ``num_inference_steps``, ``guidance_scale``, ``scheduler``, ``seed``; the answer is the raw
  image bytes for hf-inference.
- Errors, as client code quoting the API shows them: 503 ``{"error": "Model ... is currently
  loading", "estimated_time": 20.0}`` while a model is cold (a retryable error here, with the
  estimate as its Retry-After: the router goes on to the next provider at once), 401/403 a bad
  or under-scoped token, 429 with ``Retry-After`` a throttle, 402 when the account's included
  credits are spent.
- Not confirmed in the docs found: a documented NSFW refusal. A 2xx answer that is not an image
  (a JSON ``{"error": ...}``) is a :class:`ProviderDown` unless its message is a content refusal.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from chalicelib.adapters.providers.answers import CONTENT_POLICY_MARKERS, error_message
from chalicelib.adapters.providers.http_base import HttpProvider
from chalicelib.ports import (
    ContentRejected,
    ProviderDown,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    RetryableProviderError,
)

HF_ROUTER_URL = "https://router.huggingface.co"
HF_PROVIDER_PATH = "hf-inference"  # the router's own serverless provider (see the module doc)
HF_MODELS: Mapping[str, str] = {
    "fast": "black-forest-labs/FLUX.1-schnell",
    "standard": "black-forest-labs/FLUX.1-dev",
}
HF_STEPS: Mapping[str, int] = {
    "black-forest-labs/FLUX.1-schnell": 4,
    "black-forest-labs/FLUX.1-dev": 28,
}
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
_PNG = b"\x89PNG\r\n\x1a\n"


def _looks_like_image(data: bytes) -> bool:
    return data.startswith((_PNG, b"\xff\xd8\xff")) or data[8:12] == b"WEBP"


class HuggingFaceProvider(HttpProvider):
    """:class:`chalicelib.ports.ImageProvider` for Hugging Face Inference Providers (text-to-image)."""

    name = "huggingface"
    default_allowed_hosts = ()  # the image comes inline: nothing is ever downloaded
    default_read_timeout = 60.0
    default_base_url = HF_ROUTER_URL
    default_models = HF_MODELS
    default_steps = HF_STEPS

    def url_for(self, model: str) -> str:
        """The task's URL on the router: ``{base}/hf-inference/models/{owner}/{name}``."""
        return f"{self._base_url}/{HF_PROVIDER_PATH}/models/{quote(model, safe='/')}"

    def build_body(self, request: ProviderRequest, model: str) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "width": request.size,
            "height": request.size,
            "seed": request.seed,
        }
        steps = self._steps.get(model)
        if steps is not None:
            parameters["num_inference_steps"] = steps
        return {"inputs": request.prompt, "parameters": parameters}

    def error_for(self, response: httpx.Response) -> ProviderError:
        error = super().error_for(response)
        if response.status_code == 503 and error.retry_after is None:
            # A cold model: {"error": "... is currently loading", "estimated_time": 20.0}.
            try:
                payload = response.json()
            except ValueError:
                payload = None
            estimate = payload.get("estimated_time") if isinstance(payload, dict) else None
            if isinstance(estimate, int | float) and not isinstance(estimate, bool) and estimate >= 0:
                return RetryableProviderError(str(error), retry_after=float(estimate))
        return error

    def _generate(self, request: ProviderRequest) -> ProviderResult:
        started = time.perf_counter()
        model = self.model_for(request.quality)
        response = self._send(
            "POST",
            self.url_for(model),
            json_body=self.build_body(request, model),
            headers={"Accept": ", ".join(_IMAGE_TYPES)},
        )
        if not response.is_success:
            raise self.error_for(response)
        image = self._image_of(response)
        return self.make_result(image, model, request.size, request.size, started)

    def _image_of(self, response: httpx.Response) -> bytes:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        data = response.content
        if content_type.startswith("image/") and data and _looks_like_image(data):
            if len(data) > self._max_image_bytes:
                raise ProviderDown(f"{self.name}: the image is larger than {self._max_image_bytes} bytes")
            return data
        # A 2xx that is not an image: an error document (or a proxy page).
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        message = self._scrub(error_message(payload, "")) if payload is not None else ""
        if any(marker in message.lower() for marker in CONTENT_POLICY_MARKERS):
            raise ContentRejected(f"{self.name}: {message}")
        raise ProviderDown(f"{self.name}: unexpected answer (not an image: {content_type or 'no type'})")
