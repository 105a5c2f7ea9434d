"""Hugging Face Inference Providers stand-in: the router's ``hf-inference`` text-to-image task,
``POST /hf-inference/models/{owner}/{name}`` (see ``chalicelib/adapters/providers/huggingface.py``
for the sources: huggingface_hub's ``INFERENCE_PROXY_TEMPLATE`` and ``HFInferenceTask``).

- The request: a bearer token and ``{"inputs": prompt, "parameters": {width, height, seed,
  num_inference_steps}}``.
- The answer: the image bytes (``image/png``). A failure is the router's cold-model 503
  ``{"error": "Model ... is currently loading", "estimated_time": 20.0}``.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx

from stack.standins.common import Shared, body_of, json_response, relative_path

HF_TOKEN = "hf_stack_token_0123456789abcdef"  # noqa: S105 - a stand-in's fixed credential
MODELS_PATH = "/hf-inference/models/"


class HuggingFaceStandIn:
    """The router's hf-inference text-to-image (see the module doc)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def __call__(self, request: httpx.Request, base: str) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {HF_TOKEN}":
            return json_response(401, {"error": "Invalid credentials in Authorization header"})
        path = relative_path(request, base)
        if request.method != "POST" or not path.startswith(MODELS_PATH):
            return json_response(404, {"error": "Not Found"})
        model = path[len(MODELS_PATH) :]
        time.sleep(self.shared.latency())
        if self.shared.fails():
            return json_response(
                503, {"error": f"Model {model} is currently loading", "estimated_time": 20.0}
            )
        body = body_of(request)
        raw_parameters = body.get("parameters")
        parameters: dict[str, Any] = raw_parameters if isinstance(raw_parameters, dict) else {}
        seed = int(parameters.get("seed") or 0)
        self.shared.count("huggingface", model, str(body.get("inputs")), seed)
        side = int(parameters.get("width") or 1024)
        raw = base64.b64decode(self.shared.image(side, seed).split(",", 1)[1])
        return httpx.Response(200, content=raw, headers={"Content-Type": "image/png"})
