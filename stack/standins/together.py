"""Together stand-in: ``POST /v1/images/generations`` of the FLUX models, in the shape the together
SDK 3.1 reads (``types/image_file.py``: a ``data`` item discriminated by its ``type``) and
Together's docs describe (see ``chalicelib/adapters/providers/together.py``).

- The answer: ``{"id", "model", "object": "list", "data": [{"index": 0, "type": "b64_json",
  "b64_json"}]}`` with ``response_format: "base64"``, or ``{"index", "type": "url", "url"}``.

Scripted outcomes (``Shared.script("together", ...)``): ``nsfw`` (422 "NSFW content"),
``unknown_type`` (an item of a ``type`` the SDK does not know).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from stack.standins.common import Shared, body_of, json_response, relative_path, unreadable_photo

TOGETHER_KEY = "stack-together-key-0123456789abcdef"
# FLUX.1 Kontext [pro]: the photo model (chalicelib/adapters/providers/photo_vendors.py), the photo by ``image_url``.
MODELS = frozenset(
    {
        "black-forest-labs/FLUX.1-schnell",
        "black-forest-labs/FLUX.1-dev",
        "black-forest-labs/FLUX.1-kontext-pro",
    }
)


class TogetherStandIn:
    """Together's image generations API (see the module doc)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def __call__(self, request: httpx.Request, base: str) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {TOGETHER_KEY}":
            return json_response(
                401, {"error": {"message": "Invalid API key provided", "type": "invalid_request_error"}}
            )
        if request.method != "POST" or relative_path(request, base).rstrip("/") != "/v1/images/generations":
            return json_response(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})
        body = body_of(request)
        model = str(body.get("model") or "")
        if model not in MODELS:
            return json_response(
                404,
                {
                    "error": {
                        "message": f"Unable to access model {model}",
                        "type": "invalid_request_error",
                        "code": "model_not_available",
                    }
                },
            )
        unreadable = unreadable_photo(body)
        if unreadable is not None:
            return json_response(
                400,
                {"error": {"message": f"Could not download {unreadable}", "type": "invalid_request_error"}},
            )
        time.sleep(self.shared.latency())
        if self.shared.fails():
            return json_response(
                503, {"error": {"message": "The server is overloaded", "type": "server_error"}}
            )
        self.shared.count("together", model, str(body.get("prompt")), body.get("seed"))
        outcome = self.shared.next_outcome("together")
        if outcome == "nsfw":
            return json_response(
                422,
                {"error": {"message": "NSFW content detected in the image", "type": "invalid_request_error"}},
            )
        side = int(body.get("width") or 1024)
        image = self.shared.image(side, int(body.get("seed") or 0))
        item: dict[str, Any]
        if outcome == "unknown_type":
            item = {"index": 0, "type": "svg", "svg": "<svg/>"}
        elif body.get("response_format") == "base64":
            item = {"index": 0, "type": "b64_json", "b64_json": image.split(",", 1)[1]}
        else:
            item = {"index": 0, "type": "url", "url": "https://api.together.ai/shrt/stack-image"}
        request_id = uuid.uuid4().hex
        return json_response(
            200,
            {"id": request_id, "model": model, "object": "list", "data": [item]},
            {"x-request-id": request_id},
        )
