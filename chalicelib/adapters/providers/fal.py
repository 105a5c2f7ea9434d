"""fal.ai adapter: FLUX.1 [schnell] (fast), FLUX.1 [dev] (standard) and FLUX1.1 [pro] (pro) over
fal's HTTP API.

Confirmed against (vendor docs and the official client, via the reference search):

- fal model API reference, "Flux Schnell API" / "Flux Dev API"
  (fal.ai/docs/model-api-reference/image-generation-api/flux-schnell.md, .../flux-dev.md) and the
  model page llms.txt (fal.ai/models/fal-ai/flux-1/schnell/llms.txt): ``POST
  https://fal.run/fal-ai/flux/schnell`` (and ``/fal-ai/flux/dev``); input ``prompt``,
  ``image_size`` (an enum such as ``square_hd`` or ``{"width", "height"}``),
  ``num_inference_steps`` (schnell: default 4, 1..12), ``seed``, ``num_images``,
  ``enable_safety_checker``, ``sync_mode``; output ``images[].url`` and ``has_nsfw_concepts``.
  With ``sync_mode`` the image comes back inline as a ``data:`` URI.
- fal model API reference, "Flux Pro V1.1 API"
  (fal.ai/docs/model-api-reference/image-generation-api/flux-pro-v1.1.md, checked 2026-12-07):
  ``POST https://fal.run/fal-ai/flux-pro/v1.1``, endpoint id ``fal-ai/flux-pro/v1.1``; input
  ``prompt``, ``image_size``, ``seed``, ``num_images``, ``sync_mode``, ``output_format``
  (jpeg|png), ``enhance_prompt`` and ``safety_tolerance`` (a *string*, ``"1"`` most strict to
  ``"6"``, default ``"2"``); it has no ``enable_safety_checker`` and no ``num_inference_steps``,
  so neither is sent. Output as [dev] (``images[].url``, ``has_nsfw_concepts``).
- Each model is sent only the fields its schema has (:data:`FAL_INPUT_FIELDS`); schnell and dev
  take ``enable_safety_checker`` and ``num_inference_steps`` (fal model pages, checked 2026-12-07).
- Queue status (fal-client ``client.py``, ``_BaseRequestHandle._parse_status``): ``IN_QUEUE``
  (with ``queue_position``), ``IN_PROGRESS`` (with ``logs``), ``COMPLETED`` (``logs``,
  ``metrics``, and ``error``/``error_type`` when it failed); HTTP 202 while not completed. Any
  other status is an answer we do not know (a :class:`ProviderDown`, never polled until the reaper).
- Webhooks (fal docs "Webhooks"): ``{"request_id", "gateway_request_id", "status": "OK"|"ERROR",
  "payload", "error"?, "payload_error"?}``; with ``payload_error`` the output could not be put in
  the webhook and is read from the queue.
- fal Queue API OpenAPI (fal.ai/docs/api-reference/inference-api/openapi/queue.json, and
  fal.ai/api/openapi/queue/openapi.json): ``POST https://queue.fal.run/{owner}/{app}`` with the
  ``fal_webhook`` query parameter; the answer holds ``request_id``, ``status_url``,
  ``response_url``, ``cancel_url``, and fal asks clients to use those URLs rather than build them.
- Authentication: ``Authorization: Key $FAL_KEY`` (fal docs, queue "Cancel a request").
- Errors: fal's error reference (as quoted by wavespeed.ai's guide to docs.fal.ai/errors) gives
  HTTP 422 with ``{"detail": [{"loc", "msg", "type": "content_policy_violation", ...}]}``;
  fal-ai/fal issues #1112, #1147 show ``403 {"detail": "User is locked. Reason: Exhausted
  balance..."}`` for an account without credit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.key_pool import KeyPool
from chalicelib.adapters.outbound.fetch import FAL_ALLOWED_HOSTS
from chalicelib.adapters.providers.answers import as_dict, as_str, first_item, nsfw_flagged, same_origin
from chalicelib.adapters.providers.http_base import HttpProvider, make_timeout
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.ports import (
    ContentRejected,
    ProviderBadRequest,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    RetryableProviderError,
)

FAL_MODELS: Mapping[str, str] = {
    "fast": "fal-ai/flux/schnell",
    "standard": "fal-ai/flux/dev",
    "pro": "fal-ai/flux-pro/v1.1",
}
FAL_STEPS: Mapping[str, int] = {"fal-ai/flux/schnell": 4, "fal-ai/flux/dev": 28}
FAL_IMAGE_SIZES: Mapping[int, str] = {1024: "square_hd", 512: "square"}
# FLUX1.1 [pro]'s moderation: "1" (most strict) to "6"; "2" is fal's default and suits avatars.
FAL_SAFETY_TOLERANCE = "2"
# The input fields each model's current schema has (see the module doc): nothing else is sent.
_FLUX1_FIELDS = frozenset(
    {
        "prompt",
        "image_size",
        "seed",
        "num_images",
        "sync_mode",
        "enable_safety_checker",
        "num_inference_steps",
    }
)
FAL_INPUT_FIELDS: Mapping[str, frozenset[str]] = {
    "fal-ai/flux/schnell": _FLUX1_FIELDS,
    "fal-ai/flux/dev": _FLUX1_FIELDS,
    "fal-ai/flux-pro/v1.1": frozenset(
        {"prompt", "image_size", "seed", "num_images", "sync_mode", "safety_tolerance"}
    ),
}


@dataclass(frozen=True)
class FalSubmission:
    """A request accepted by fal's queue, with the URLs fal gave for it."""

    request_id: str
    status_url: str
    response_url: str
    cancel_url: str | None = None


class FalProvider(HttpProvider):
    """:class:`chalicelib.ports.ImageProvider` for fal.ai (sync calls, plus queue submission)."""

    name = "fal"
    default_allowed_hosts = FAL_ALLOWED_HOSTS
    default_read_timeout = 60.0  # dev at 28 steps takes seconds, a cold runner longer
    default_base_url = "https://fal.run"
    default_models = FAL_MODELS
    default_steps = FAL_STEPS

    def __init__(
        self,
        api_key: str | KeyPool,
        options: ProviderOptions | None = None,
        *,
        queue_base_url: str = "https://queue.fal.run",
        steps: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(api_key, options, steps=steps)
        self._queue_base_url = queue_base_url.rstrip("/")

    def auth_headers_for(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}"}  # fal's scheme, not Bearer

    def build_input(self, request: ProviderRequest, model: str, *, sync_mode: bool = True) -> dict[str, Any]:
        """The model input for ``request``."""
        size = request.size
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "image_size": FAL_IMAGE_SIZES.get(size) or {"width": size, "height": size},
            "seed": request.seed,
            "num_images": 1,
            "enable_safety_checker": True,
            "safety_tolerance": FAL_SAFETY_TOLERANCE,
            "sync_mode": sync_mode,  # the image inline as a data: URI: no second download
        }
        steps = self._steps.get(model)
        if steps is not None:
            body["num_inference_steps"] = steps
        fields = FAL_INPUT_FIELDS.get(model)
        if fields is None:  # a model configured here but not described: FLUX.1's fields
            fields = _FLUX1_FIELDS
        return {key: value for key, value in body.items() if key in fields}

    def _generate(self, request: ProviderRequest) -> ProviderResult:
        started = time.perf_counter()
        model = self.model_for(request.quality)
        body = self.build_input(request, model)
        payload = self._call_json("POST", f"{self._base_url}/{model}", json_body=body)
        return self.result_from_payload(payload, model=model, size=request.size, started=started)

    def result_from_payload(
        self, payload: Mapping[str, Any], *, model: str, size: int, started: float | None = None
    ) -> ProviderResult:
        """The result for a fal output (a sync answer, a queue result or a webhook ``payload``)."""
        started = time.perf_counter() if started is None else started
        if nsfw_flagged(payload):
            raise ContentRejected(f"{self.name}: the safety checker flagged the image")
        image_ref = as_dict(first_item(payload.get("images"), self.name, "images"), self.name, "images[0]")
        image = self.load_image(as_str(image_ref.get("url"), self.name, "images[0].url"))
        return self.make_result(image, model, size, size, started)

    # -- queue -----------------------------------------------------------------------------

    def submit_job(self, request: ProviderRequest, webhook_url: str | None = None) -> FalSubmission:
        """Queue ``request`` at fal; fal calls ``webhook_url`` (if given) when it is done."""
        model = self.model_for(request.quality)
        payload = self._call_json(
            "POST",
            f"{self._queue_base_url}/{model}",
            json_body=self.build_input(request, model, sync_mode=False),
            params={"fal_webhook": webhook_url} if webhook_url else None,
            timeout=make_timeout(10.0),  # submission is quick; only the queue waits
        )
        return FalSubmission(
            request_id=as_str(payload.get("request_id"), self.name, "request_id"),
            status_url=as_str(payload.get("status_url"), self.name, "status_url"),
            response_url=as_str(payload.get("response_url"), self.name, "response_url"),
            cancel_url=payload.get("cancel_url") if isinstance(payload.get("cancel_url"), str) else None,
        )

    def submit(self, request: ProviderRequest, webhook_url: str | None = None) -> str:
        """Queue ``request`` and return fal's ``request_id`` (see :meth:`submit_job` for the URLs)."""
        return self.submit_job(request, webhook_url).request_id

    def status(self, status_url: str) -> str:
        """A queued request's status (IN_QUEUE, IN_PROGRESS, COMPLETED) from its ``status_url``."""
        if not same_origin(status_url, self._queue_base_url):
            raise ProviderBadRequest(f"{self.name}: the status URL is not on the queue host")
        payload = self._call_json("GET", status_url)
        return as_str(payload.get("status"), self.name, "status")

    def status_detail(self, status_url: str) -> dict[str, Any]:
        """A queued request's status document with its logs (``?logs=1``): ``status``, and
        ``queue_position`` while IN_QUEUE or ``logs`` while IN_PROGRESS (progress, where printed)."""
        if not same_origin(status_url, self._queue_base_url):
            raise ProviderBadRequest(f"{self.name}: the status URL is not on the queue host")
        return self._call_json("GET", status_url, params={"logs": "1"})

    def cancel(self, cancel_url: str) -> None:
        """Best effort: cancel a queued request (only ever on fal's own queue host)."""
        if not same_origin(cancel_url, self._queue_base_url):
            return
        with contextlib.suppress(ProviderError):
            self._send("PUT", cancel_url, timeout=make_timeout(5.0))

    def result(self, response_url: str, *, quality: str = "fast", size: int = 1024) -> ProviderResult:
        """Fetch a queued request's result from the ``response_url`` fal returned at submission."""
        # Our key goes along with this request: only ever to fal's own queue host.
        if not same_origin(response_url, self._queue_base_url):
            raise ProviderBadRequest(f"{self.name}: the response URL is not on the queue host")
        started = time.perf_counter()
        model = self.model_for(quality)
        response = self._send("GET", response_url)
        if response.status_code == 202 or (
            response.status_code == 400
            and any(w in response.text.lower() for w in ("in progress", "in queue"))
        ):
            # Asked too early (the shape of this answer is not documented: be lenient).
            raise RetryableProviderError(f"{self.name}: the request has not finished yet", retry_after=1.0)
        if not response.is_success:
            raise self.error_for(response)
        payload = self._parse_json(response)
        if payload.get("status") in ("IN_QUEUE", "IN_PROGRESS"):
            raise RetryableProviderError(f"{self.name}: the request has not finished yet", retry_after=1.0)
        return self.result_from_payload(payload, model=model, size=size, started=started)
