"""OpenAI stand-in: ``POST /v1/images/generations`` of the GPT Image models, in the shape
openai-python 3.51 reads (``types/images_response.py``) and OpenAI's API reference documents (see
``chalicelib/adapters/providers/openai.py``).

- ``model`` one of the GPT Image models; any other (``dall-e-3`` included: it is removed) is a 404
  ``{"error": {"code": "model_not_found", ...}}``.
- ``size`` ``1024x1024``/``1536x1024``/``1024x1536``/``auto``, ``quality``
  ``low``/``medium``/``high``/``auto``; ``response_format`` is refused (400 ``unknown_parameter``)
  as the GPT Image models always answer base64.
- The answer: ``{"created", "background", "data": [{"b64_json"}], "output_format", "quality",
  "size", "usage"}`` with an ``x-request-id`` header.

Scripted outcomes (``Shared.script("openai", ...)``): ``moderation_blocked`` (400),
``url`` (an answer with ``url`` and no ``b64_json``: not a shape GPT Image answers).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from stack.standins.common import Shared, body_of, json_response, relative_path

OPENAI_KEY = "sk-stack-openai-0123456789abcdef"
MODELS = frozenset({"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5"})
SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"})
QUALITIES = frozenset({"low", "medium", "high", "auto"})
_OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160, "auto": 1056}


def _error(
    status: int,
    code: str | None,
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
) -> httpx.Response:
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    return json_response(
        status, {"error": {"message": message, "type": type_, "param": param, "code": code}}, headers
    )


class OpenAIStandIn:
    """OpenAI's image generations API (see the module doc)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def __call__(self, request: httpx.Request, base: str) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {OPENAI_KEY}":
            return _error(401, "invalid_api_key", "Incorrect API key provided.")
        if request.method != "POST" or relative_path(request, base).rstrip("/") != "/v1/images/generations":
            return _error(404, None, "Invalid URL")
        body = body_of(request)
        model = str(body.get("model") or "")
        if model not in MODELS:
            return _error(
                404, "model_not_found", f"The model `{model}` does not exist or you do not have access to it."
            )
        if "response_format" in body:
            return _error(
                400, "unknown_parameter", "Unknown parameter: 'response_format'.", param="response_format"
            )
        size, quality = body.get("size", "auto"), body.get("quality", "auto")
        if size not in SIZES:
            return _error(
                400,
                "invalid_value",
                f"Invalid value: '{size}'. Supported values are: {sorted(SIZES)}.",
                param="size",
            )
        if quality not in QUALITIES:
            return _error(400, "invalid_value", f"Invalid value: '{quality}'.", param="quality")
        time.sleep(self.shared.latency())
        if self.shared.fails():
            return json_response(
                503, {"error": {"message": "The server is overloaded", "type": "server_error"}}
            )
        self.shared.count("openai", model, str(body.get("prompt")), None)
        outcome = self.shared.next_outcome("openai")
        if outcome == "moderation_blocked":
            return _error(
                400,
                "moderation_blocked",
                "Your request was rejected by the safety system.",
                "image_generation_user_error",
            )
        side = 1024
        image = self.shared.image(side, len(str(body.get("prompt"))))
        item: dict[str, Any] = {"b64_json": image.split(",", 1)[1]}
        if outcome == "url":
            item = {"url": "https://oaidalleapiprodscus.blob.core.windows.net/private/img.png"}
        answer = {
            "created": int(time.time()),
            "background": "opaque",
            "data": [item],
            "output_format": body.get("output_format", "png"),
            "quality": "medium" if quality == "auto" else quality,
            "size": "1024x1024" if size == "auto" else size,
            "usage": {
                "input_tokens": 50,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": 50},
                "output_tokens": _OUTPUT_TOKENS[str(quality)],
                "total_tokens": 50 + _OUTPUT_TOKENS[str(quality)],
            },
        }
        return json_response(200, answer, {"x-request-id": f"req_{uuid.uuid4().hex}"})
