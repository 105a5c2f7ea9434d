"""Replicate stand-in: predictions of the official FLUX models (``Prefer: wait``, polling, cancel)
and webhooks signed per Standard Webhooks, in the shapes replicate-python 1.0.7 reads
(``replicate/prediction.py``) and Replicate's docs describe (see
``chalicelib/adapters/providers/replicate.py``).

- ``POST {api}/v1/models/{owner}/{name}/predictions``: 201 and the prediction (``id``, ``model``,
  ``version``, ``input``, ``logs``, ``output``, ``data_removed``, ``error``, ``status``,
  ``created_at``, ``started_at``, ``completed_at``, ``urls``, ``metrics``). With ``Prefer:
  wait=N`` the answer is held until the prediction ends, or answered ``starting`` when it does not
  end within the wait (its latency is longer, or the ``slow`` outcome); without it, ``starting`` at once (and, with ``webhook``, a signed POST of the
  finished prediction).
- ``GET {api}/v1/predictions/{id}``: the prediction; ``POST .../{id}/cancel``: the whole prediction,
  ``canceled`` if it had not ended.

Stricter than Replicate on purpose: an input field the model's schema does not have, or a
``megapixels`` other than ``"1"``/``"0.25"``, is a 422.

Scripted outcomes (``Shared.script("replicate", ...)``): ``slow`` (still ``starting`` after the
wait, then ``processing``, then ``succeeded``), ``aborted`` (``starting``, then ``aborted``: past
its deadline before it could start), ``nsfw`` (``failed`` with cog-flux's NSFW message),
``unknown_status`` (a poll answers ``"exploded"``).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx

from stack.standins.common import Shared, body_of, json_response, relative_path, unreadable_photo

REPLICATE_TOKEN = "r8_stack_token_0123456789abcdef"  # noqa: S105 - a stand-in's fixed credential
REPLICATE_SECRET = "whsec_" + base64.b64encode(b"stack-replicate-signing-secret-32").decode()
_FLUX = frozenset(
    {
        "prompt",
        "aspect_ratio",
        "num_outputs",
        "num_inference_steps",
        "seed",
        "output_format",
        "output_quality",
        "disable_safety_checker",
        "go_fast",
        "megapixels",
    }
)
# The input fields of each model's current schema (replicate.com/black-forest-labs/flux-*/api,
# checked 2026-12-07); flux-dev also takes guidance, image and prompt_strength.
SCHEMAS: dict[str, frozenset[str]] = {
    "black-forest-labs/flux-schnell": _FLUX,
    "black-forest-labs/flux-dev": _FLUX | {"guidance", "image", "prompt_strength"},
    # The photo model (chalicelib/adapters/providers/photo_vendors.py): the photo by its URL.
    "black-forest-labs/flux-kontext-pro": frozenset(
        {
            "prompt",
            "input_image",
            "aspect_ratio",
            "output_format",
            "safety_tolerance",
            "seed",
            "prompt_upsampling",
        }
    ),
}
MEGAPIXELS = frozenset({"1", "0.25"})
NSFW_ERROR = "NSFW content detected. Try running it again, or try a different prompt."


def _prefer_wait(prefer: str) -> float | None:
    """The seconds of a ``Prefer: wait`` or ``wait=N`` header (60 for a bare ``wait``); None without."""
    if not prefer.startswith("wait"):
        return None
    _, _, value = prefer.partition("=")
    try:
        return min(60.0, float(value)) if value else 60.0
    except ValueError:
        return 60.0


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class ReplicateStandIn:
    """Replicate's predictions API and webhooks (see the module doc)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.predictions: dict[str, dict[str, Any]] = {}
        self._plans: dict[str, list[str]] = {}  # the statuses the next polls answer

    def __call__(self, request: httpx.Request, base: str) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {REPLICATE_TOKEN}":
            return json_response(
                401,
                {
                    "title": "Unauthenticated",
                    "detail": "You did not pass a valid authentication token",
                    "status": 401,
                },
            )
        path = relative_path(request, base)
        if request.method == "POST" and path.startswith("/v1/models/") and path.endswith("/predictions"):
            return self._create(request, base, path[len("/v1/models/") : -len("/predictions")])
        if path.startswith("/v1/predictions/"):
            prediction_id, _, action = path[len("/v1/predictions/") :].partition("/")
            prediction = self.predictions.get(prediction_id)
            if prediction is None:
                return json_response(404, {"title": "Not found", "detail": "Not found.", "status": 404})
            if request.method == "POST" and action == "cancel":
                return self._cancel(prediction)
            if request.method == "GET" and not action:
                return json_response(200, self._advance(prediction))
        return json_response(404, {"title": "Not found", "detail": "Not found.", "status": 404})

    # -- predictions -----------------------------------------------------------------------------

    def _create(self, request: httpx.Request, base: str, model: str) -> httpx.Response:
        body = body_of(request)
        model_input = body.get("input") if isinstance(body.get("input"), dict) else {}
        assert isinstance(model_input, dict)  # noqa: S101 - for the type checker
        refused = self._validate(model, model_input)
        if refused is not None:
            return refused
        if self.shared.fails():
            return json_response(503, {"detail": "Service temporarily unavailable"})
        self.shared.count("replicate", model, str(model_input.get("prompt")), model_input.get("seed"))
        outcome = self.shared.next_outcome("replicate")
        prediction_id = uuid.uuid4().hex[:26]
        root = f"{base.rstrip('/')}/v1/predictions/{prediction_id}"
        prediction: dict[str, Any] = {
            "id": prediction_id,
            "model": model,
            "version": "dp-" + uuid.uuid5(uuid.NAMESPACE_URL, model).hex,
            "input": model_input,
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": "starting",
            "created_at": _now(),
            "started_at": None,
            "completed_at": None,
            "urls": {
                "get": root,
                "cancel": f"{root}/cancel",
                "stream": f"https://stream.replicate.com/v1/files/{prediction_id}",
                "web": f"https://replicate.com/p/{prediction_id}",
            },
        }
        side = 512 if model_input.get("megapixels") == "0.25" else 1024
        prediction["_image"] = self.shared.image(side, int(model_input.get("seed") or 0))
        with self.shared.lock:
            self.predictions[prediction_id] = prediction
            self._plans[prediction_id] = {
                "slow": ["processing", "succeeded"],
                "aborted": ["aborted"],
                "nsfw": ["failed"],
                "unknown_status": ["exploded"],
            }.get(outcome, ["succeeded"])
        latency = self.shared.latency()
        wait = _prefer_wait(request.headers.get("Prefer") or "")
        webhook = body.get("webhook")
        if wait is not None:
            # Held until the prediction ends, or answered still starting when the wait ends first
            # (then the next poll moves it on).
            time.sleep(min(latency, wait))
            if outcome == "ok" and latency <= wait:
                self._advance(prediction)
            return json_response(201, self._public(prediction))
        answer = json_response(201, self._public(prediction))

        def later() -> None:
            time.sleep(latency)
            while self._advance(prediction)["status"] in ("starting", "processing"):
                pass
            if isinstance(webhook, str) and webhook:
                self.webhook(webhook, prediction)

        if latency > 0 or webhook:
            self.shared.later(later)
        return answer

    def _advance(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """One step of the prediction's life (each poll is one): the next planned status."""
        with self.shared.lock:
            plan = self._plans.get(prediction["id"], [])
            if prediction["status"] in ("starting", "processing") and plan:
                status = plan.pop(0)
                prediction["status"] = status
                if status == "processing":
                    prediction["started_at"] = _now()
                    prediction["logs"] = "Using seed: 1\n  50%|█████     | 2/4 [00:00<00:00]\n"
                elif status == "succeeded":
                    prediction.update(
                        output=[prediction["_image"]], completed_at=_now(), metrics={"predict_time": 0.1}
                    )
                elif status == "failed":
                    prediction.update(error=NSFW_ERROR, completed_at=_now())
                elif status == "aborted":
                    prediction.update(completed_at=_now())
        return self._public(prediction)

    def _cancel(self, prediction: dict[str, Any]) -> httpx.Response:
        with self.shared.lock:
            if prediction["status"] in ("starting", "processing"):
                prediction.update(status="canceled", completed_at=_now())
                self._plans.pop(prediction["id"], None)
        return json_response(200, self._public(prediction))

    @staticmethod
    def _public(prediction: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in prediction.items() if not k.startswith("_")}

    def _validate(self, model: str, model_input: dict[str, Any]) -> httpx.Response | None:
        schema = SCHEMAS.get(model)
        if schema is None:
            return json_response(
                404, {"title": "Model not found", "detail": f"{model} not found", "status": 404}
            )
        problems = [f"{k}: Additional property {k} is not allowed" for k in sorted(set(model_input) - schema)]
        if "megapixels" in model_input and model_input["megapixels"] not in MEGAPIXELS:
            problems.append('megapixels: megapixels must be one of the following: "1", "0.25"')
        if "go_fast" in model_input and not isinstance(model_input["go_fast"], bool):
            problems.append("go_fast: Invalid type. Expected: boolean")
        unreadable = unreadable_photo(model_input)
        if unreadable is not None:
            problems.append(f"{unreadable}: the file at the URL could not be downloaded")
        if not problems:
            return None
        detail = "- " + "\n- ".join(problems)
        return json_response(
            422,
            {
                "title": "Input validation failed",
                "detail": detail,
                "status": 422,
                "invalid_fields": [
                    {"type": "invalid", "field": p.split(":")[0], "description": p} for p in problems
                ],
            },
        )

    # -- webhooks --------------------------------------------------------------------------------

    def webhook(self, url: str, prediction: dict[str, Any]) -> None:
        body = json.dumps(self._public(prediction)).encode()
        msg_id = f"msg_{uuid.uuid4().hex}"  # the same id on every attempt (Standard Webhooks)
        self.shared.deliver("replicate", url, body, lambda: self.signed_headers(msg_id, body))

    @staticmethod
    def signed_headers(msg_id: str, body: bytes) -> dict[str, str]:
        from chalicelib.domain.webhook_signatures import sign_standard_webhook

        ts = int(time.time())
        return {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign_standard_webhook(REPLICATE_SECRET, msg_id, ts, body),
        }
