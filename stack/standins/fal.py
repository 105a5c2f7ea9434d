"""fal.ai stand-in: the sync API (``fal.run``), the queue API (``queue.fal.run``), signed webhooks
and the JWKS they are checked with, in the shapes fal-client 1.0.3 reads (``client.py``) and fal's
docs describe (see ``chalicelib/adapters/providers/fal.py``).

- ``POST {run}/{model}``: the output ``{"images": [{"url", "width", "height", "content_type"}],
  "timings", "seed", "has_nsfw_concepts", "prompt"}``.
- ``POST {queue}/{model}[?fal_webhook=URL]``: ``{"request_id", "response_url", "status_url",
  "cancel_url", "queue_position"}``, the URLs under ``{queue}/{owner}/{app}/requests/{id}``.
- ``GET .../status``: **202** ``{"status": "IN_QUEUE", "queue_position"}`` or ``{"status":
  "IN_PROGRESS", "logs"}`` while not done; 200 ``{"status": "COMPLETED", "logs", "metrics"}`` (with
  ``error`` and ``error_type`` when it failed).
- ``GET .../requests/{id}``: the output; 400 ``{"detail": "Request is still in progress"}`` before.
- ``PUT .../cancel``: 202 ``{"status": "CANCELLATION_REQUESTED"}``, 400 ``ALREADY_COMPLETED`` after.
- Webhook: ``{"request_id", "gateway_request_id", "status": "OK"|"ERROR", "payload", "error"?,
  "payload_error"?}`` with the ``X-Fal-Webhook-*`` headers (ED25519), keys at ``GET {jwks}``.

Stricter than fal on one point, on purpose: an input field that the model's schema does not have
is a 422 (``extra_forbidden``), and so is a ``safety_tolerance`` that is not ``"1"``-``"6"``.

Scripted outcomes (``Shared.script("fal", ...)``): ``queued`` (the first two status reads say
IN_QUEUE then IN_PROGRESS), ``nsfw`` (the output is flagged: ``has_nsfw_concepts: [true]``),
``error`` (the request fails: an ``ERROR`` webhook, a 422 result), ``payload_error`` (an ``OK``
webhook without its payload), ``unknown_status`` (the status endpoint answers ``"EXPLODED"``),
``held`` (the request stays ``IN_QUEUE`` until it is canceled).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx

from stack.standins.common import Shared, body_of, json_response, relative_path, unreadable_photo

FAL_KEY = "stack-fal-key:0123456789abcdef"
_SIZES = {"square_hd": 1024, "square": 512, "landscape_4_3": 1024}
_FLUX1 = frozenset(
    {
        "prompt",
        "image_size",
        "num_inference_steps",
        "seed",
        "guidance_scale",
        "sync_mode",
        "num_images",
        "enable_safety_checker",
        "output_format",
        "acceleration",
    }
)
# The input fields of each model's current schema (fal model pages, checked 2026-12-07).
SCHEMAS: dict[str, frozenset[str]] = {
    "fal-ai/flux/schnell": _FLUX1,
    "fal-ai/flux/dev": _FLUX1,
    "fal-ai/flux-pro/v1.1": frozenset(
        {
            "prompt",
            "image_size",
            "seed",
            "sync_mode",
            "num_images",
            "output_format",
            "safety_tolerance",
            "enhance_prompt",
        }
    ),
    # The photo models (chalicelib/adapters/providers/photo_vendors.py): the photo by its URL.
    "fal-ai/flux-pulid": frozenset(
        {
            "prompt",
            "reference_image_url",
            "id_weight",
            "image_size",
            "num_inference_steps",
            "seed",
            "guidance_scale",
            "negative_prompt",
            "enable_safety_checker",
            "sync_mode",
            "num_images",
        }
    ),
    "fal-ai/flux-pro/kontext": frozenset(
        {
            "prompt",
            "image_url",
            "seed",
            "guidance_scale",
            "num_images",
            "safety_tolerance",
            "output_format",
            "aspect_ratio",
            "sync_mode",
        }
    ),
}
SAFETY_TOLERANCES = frozenset({"1", "2", "3", "4", "5", "6"})
CONTENT_POLICY_DETAIL = [
    {
        "loc": ["body", "prompt"],
        "msg": "The content could not be processed because it contained material flagged by a content checker.",
        "type": "content_policy_violation",
    }
]

FAL_SIGNING_SEED = b"stack-fal-webhook-signing-key-32"  # 32 bytes: an ED25519 private key


class FalStandIn:
    """fal's sync and queue APIs and its webhooks (see the module doc)."""

    def __init__(self, shared: Shared) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.shared = shared
        # A fixed key: a stand-in started again after a crash signs as before (the app's cached JWKS
        # stays valid), as fal's own keys outlive an outage.
        self.signing_key = Ed25519PrivateKey.from_private_bytes(FAL_SIGNING_SEED)
        self.jobs: dict[str, dict[str, Any]] = {}

    # -- entry points ----------------------------------------------------------------------------

    def sync(self, request: httpx.Request, base: str) -> httpx.Response:
        """``fal.run``: run a model and answer its output."""
        if not self._authorized(request):
            return _unauthorized()
        model = relative_path(request, base).strip("/")
        body = body_of(request)
        refused = self._validate(model, body)
        if refused is not None:
            return refused
        time.sleep(self.shared.latency())
        if self.shared.fails():
            return json_response(503, {"detail": "Service temporarily unavailable"})
        self.shared.count("fal", model, str(body.get("prompt")), body.get("seed"))
        outcome = self.shared.next_outcome("fal")
        if outcome == "error":
            return json_response(422, {"detail": CONTENT_POLICY_DETAIL})
        return json_response(200, self._output(body, nsfw=outcome == "nsfw"), _request_id_header())

    def queue(self, request: httpx.Request, base: str) -> httpx.Response:
        """``queue.fal.run``: submit, status, result, cancel."""
        if not self._authorized(request):
            return _unauthorized()
        path = relative_path(request, base).strip("/")
        if "/requests/" in path:
            _, _, rest = path.partition("/requests/")
            request_id, _, action = rest.partition("/")
            return self._request(request.method, request_id, action)
        if request.method == "POST":
            return self._submit(request, base, path)
        return json_response(404, {"detail": "Not Found"})

    def jwks(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self.signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "stack-fal-1"}]}

    # -- the queue -------------------------------------------------------------------------------

    def _submit(self, request: httpx.Request, base: str, model: str) -> httpx.Response:
        body = body_of(request)
        refused = self._validate(model, body)
        if refused is not None:
            return refused
        if self.shared.fails():
            return json_response(503, {"detail": "Service temporarily unavailable"})
        self.shared.count("fal", model, str(body.get("prompt")), body.get("seed"))
        outcome = self.shared.next_outcome("fal")
        request_id = str(uuid.uuid4())
        owner, _, rest = model.partition("/")
        app = rest.split("/")[0]
        urls = f"{base.rstrip('/')}/{owner}/{app}/requests/{request_id}"
        job: dict[str, Any] = {
            "status": "IN_QUEUE",
            "outcome": outcome,
            "output": self._output(body, nsfw=outcome == "nsfw"),
            "reads": 0,
            "response_url": urls,
        }
        with self.shared.lock:
            self.jobs[request_id] = job
        webhook = parse_qs(request.url.query.decode()).get("fal_webhook", [""])[0]
        latency = self.shared.latency()

        def finish() -> None:
            time.sleep(latency)
            if job["status"] == "CANCELLED":
                return
            job["status"] = "COMPLETED"
            if webhook:
                self.webhook(webhook, request_id, job)

        if outcome == "held":
            pass  # stays IN_QUEUE: a request to cancel
        elif latency <= 0 and not webhook:
            job["status"] = "COMPLETED"
        else:
            self.shared.later(finish)
        return json_response(
            200,
            {
                "request_id": request_id,
                "response_url": urls,
                "status_url": f"{urls}/status",
                "cancel_url": f"{urls}/cancel",
                "queue_position": 0,
            },
            _request_id_header(request_id),
        )

    def _request(self, method: str, request_id: str, action: str) -> httpx.Response:
        job = self.jobs.get(request_id)
        if job is None:
            return json_response(404, {"detail": "Request not found"})
        if action == "status" and method == "GET":
            return self._status(job)
        if action == "cancel" and method == "PUT":
            if job["status"] == "COMPLETED":
                return json_response(400, {"status": "ALREADY_COMPLETED"})
            job["status"] = "CANCELLED"
            return json_response(202, {"status": "CANCELLATION_REQUESTED"})
        if action == "" and method == "GET":
            if job["status"] != "COMPLETED":
                return json_response(400, {"detail": "Request is still in progress"})
            if job["outcome"] == "error":
                return json_response(422, {"detail": CONTENT_POLICY_DETAIL})
            return json_response(200, job["output"], _request_id_header(request_id))
        return json_response(405, {"detail": "Method Not Allowed"})

    def _status(self, job: dict[str, Any]) -> httpx.Response:
        job["reads"] += 1
        if job["outcome"] == "unknown_status":
            return json_response(200, {"status": "EXPLODED", "logs": []})
        held = job["outcome"] == "queued" and job["reads"] <= 2
        if job["status"] == "IN_QUEUE" or (held and job["reads"] == 1):
            return json_response(
                202, {"status": "IN_QUEUE", "queue_position": 0, "response_url": job["response_url"]}
            )
        if job["status"] != "COMPLETED" or held:
            logs = [{"message": "  50%|█████     | 2/4", "level": "INFO", "source": "stdout"}]
            return json_response(
                202, {"status": "IN_PROGRESS", "logs": logs, "response_url": job["response_url"]}
            )
        doc: dict[str, Any] = {
            "status": "COMPLETED",
            "logs": [],
            "metrics": {"inference_time": 0.1},
            "response_url": job["response_url"],
        }
        if job["outcome"] == "error":
            doc.update(error="Invalid status code: 422", error_type="content_policy_violation")
        return json_response(200, doc)

    # -- webhooks --------------------------------------------------------------------------------

    def webhook_body(self, request_id: str, job: dict[str, Any]) -> dict[str, Any]:
        """The webhook fal sends when ``job`` ends (see the module doc for the outcomes)."""
        doc: dict[str, Any] = {"request_id": request_id, "gateway_request_id": request_id}
        if job["outcome"] == "error":
            doc.update(
                status="ERROR", error="Invalid status code: 422", payload={"detail": CONTENT_POLICY_DETAIL}
            )
        elif job["outcome"] == "payload_error":
            doc.update(
                status="OK",
                payload=None,
                payload_error="Response payload is not JSON serializable. Either return a JSON "
                "serializable object or use the queue endpoint to retrieve the response.",
            )
        else:
            doc.update(status="OK", payload=job["output"])
        return doc

    def webhook(self, url: str, request_id: str, job: dict[str, Any]) -> None:
        from chalicelib.domain.webhook_signatures import fal_signed_message

        body = json.dumps(self.webhook_body(request_id, job)).encode()

        def sign() -> dict[str, str]:
            ts = str(int(time.time()))
            signature = self.signing_key.sign(fal_signed_message(request_id, "stack-user", ts, body)).hex()
            return {
                "Content-Type": "application/json",
                "X-Fal-Webhook-Request-Id": request_id,
                "X-Fal-Webhook-User-Id": "stack-user",
                "X-Fal-Webhook-Timestamp": ts,
                "X-Fal-Webhook-Signature": signature,
            }

        self.shared.deliver("fal", url, body, sign)

    # -- helpers ---------------------------------------------------------------------------------

    def _authorized(self, request: httpx.Request) -> bool:
        return bool(request.headers.get("Authorization") == f"Key {FAL_KEY}")

    def _validate(self, model: str, body: dict[str, Any]) -> httpx.Response | None:
        schema = SCHEMAS.get(model)
        if schema is None:
            return json_response(404, {"detail": f"Application '{model}' not found"})
        extra = sorted(set(body) - schema)
        if extra:
            detail = [
                {"loc": ["body", k], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
                for k in extra
            ]
            return json_response(422, {"detail": detail})
        tolerance = body.get("safety_tolerance")
        if "safety_tolerance" in body and tolerance not in SAFETY_TOLERANCES:
            detail = [
                {
                    "loc": ["body", "safety_tolerance"],
                    "msg": "Input should be '1', '2', '3', '4', '5' or '6'",
                    "type": "enum",
                }
            ]
            return json_response(422, {"detail": detail})
        unreadable = unreadable_photo(body)
        if unreadable is not None:
            detail = [
                {
                    "loc": ["body", unreadable],
                    "msg": "Failed to download the file. Please check if the URL is accessible.",
                    "type": "file_download_error",
                }
            ]
            return json_response(422, {"detail": detail})
        return None

    def _output(self, body: dict[str, Any], *, nsfw: bool = False) -> dict[str, Any]:
        size = body.get("image_size")
        side = _SIZES.get(size, 1024) if isinstance(size, str) else int((size or {}).get("width", 1024))
        seed = int(body.get("seed") or 0)
        return {
            "images": [
                {
                    "url": self.shared.image(side, seed),
                    "width": side,
                    "height": side,
                    "content_type": "image/png",
                }
            ],
            "timings": {"inference": 0.1},
            "seed": seed,
            "has_nsfw_concepts": [nsfw],
            "prompt": body.get("prompt", ""),
        }


def _unauthorized() -> httpx.Response:
    return json_response(401, {"detail": "No user found for Key ID and Secret"})


def _request_id_header(request_id: str | None = None) -> dict[str, str]:
    return {"x-fal-request-id": request_id or str(uuid.uuid4())}
