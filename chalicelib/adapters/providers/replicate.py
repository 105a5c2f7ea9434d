"""Replicate adapter: black-forest-labs/flux-schnell (fast) and flux-dev (standard) predictions.

The vendor's shape, as documented (checked 2026-12-07):

- Replicate docs, "Create a prediction" (replicate.com/docs/topics/predictions/create-a-prediction):
  official models are run with ``models.predictions.create`` = ``POST
  /v1/models/{owner}/{name}/predictions`` and body ``{"input": {...}}``; sync mode is enabled with
  the ``Prefer: wait`` header, which holds the request open (60 s at most) and returns the
  prediction: finished if the model finished in time, else still ``starting`` or ``processing``
  (then it is polled).
- "Prediction lifecycle" (replicate.com/docs/topics/predictions/lifecycle) and replicate-python
  ``replicate/prediction.py`` (``Literal["starting", "processing", "succeeded", "failed",
  "canceled", "aborted"]``, replicate/replicate-python#460): ``starting`` and ``processing`` are
  running; ``succeeded``, ``failed``, ``canceled`` (by us, or past its deadline after starting) and
  ``aborted`` (past its deadline before it could start) are final. A prediction also has ``id``,
  ``output``, ``error``, ``logs``, ``urls.get``, ``urls.cancel``; ``POST .../{id}/cancel``
  answers the whole prediction. Any other status is an answer we do not know: a
  :class:`ProviderDown` (fail over), never a poll until the deadline.
- replicate-python ``client.py``: ``Authorization: Bearer <token>``, base URL
  ``https://api.replicate.com``.
- flux-schnell input schema (replicate.com/black-forest-labs/flux-schnell/versions/c846a699.../api)
  and flux-dev's: ``prompt``, ``aspect_ratio`` (default ``1:1``), ``num_outputs``, ``seed``,
  ``output_format`` (webp|jpg|png), ``go_fast`` (default **true**: fp8, and "outputs will not be
  deterministic when this is enabled, even if you set a seed"), ``megapixels`` (``"1"`` or
  ``"0.25"``, default ``"1"``). We send ``go_fast: false`` (same request, same picture: the cache
  promises it) and ``megapixels: "0.25"`` for a request of 512 px or less (a 512x512 image is
  0.25 MP; it is then not rendered, nor paid, at 1 MP). Output is an array of URIs.
- replicate/cog-flux: a failed prediction says ``NSFW content detected. Try running it again, or
  try a different prompt.``
- Throttling answers 429 ``{"detail": "Request was throttled. Expected available in N seconds."}``;
  output URLs (on ``replicate.delivery``) expire after an hour, so the image is downloaded at once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any, Literal

from chalicelib.adapters.key_pool import KeyPool
from chalicelib.adapters.outbound.fetch import REPLICATE_ALLOWED_HOSTS
from chalicelib.adapters.providers.answers import CONTENT_POLICY_MARKERS, safe_id, same_origin
from chalicelib.adapters.providers.http_base import (
    HttpProvider,
    make_timeout,
)
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.ports import (
    ContentRejected,
    ProviderDown,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    RetryableProviderError,
)

REPLICATE_MODELS: Mapping[str, str] = {
    "fast": "black-forest-labs/flux-schnell",
    "standard": "black-forest-labs/flux-dev",
}
RUNNING_STATUSES = frozenset({"starting", "processing"})
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled", "aborted"})
SMALL_MEGAPIXELS_SIZE = 512  # up to this side, ask for 0.25 MP (512x512) rather than 1 MP
MAX_PREFER_WAIT = 60  # Replicate's limit for Prefer: wait
ANSWER_MARGIN_S = 5.0  # after the Prefer: wait, time for the answer (and, within a deadline, a poll)


class ReplicateProvider(HttpProvider):
    """:class:`chalicelib.ports.ImageProvider` for Replicate's official FLUX models."""

    name = "replicate"
    default_allowed_hosts = REPLICATE_ALLOWED_HOSTS
    default_read_timeout = 20.0  # polls; the creating call gets wait + margin
    default_base_url = "https://api.replicate.com"
    default_models = REPLICATE_MODELS

    def __init__(
        self,
        api_token: str | KeyPool,
        options: ProviderOptions | None = None,
        *,
        wait_seconds: int = 30,
        deadline_seconds: float = 90.0,
        poll_interval: float = 0.5,
        max_poll_interval: float = 4.0,
        output_format: Literal["png", "webp"] = "png",
    ) -> None:
        super().__init__(api_token, options)
        self._wait_seconds = max(1, min(MAX_PREFER_WAIT, int(wait_seconds)))
        self._deadline_seconds = deadline_seconds
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._output_format = output_format

    def build_input(self, request: ProviderRequest) -> dict[str, Any]:
        # 1:1 at 1 MP is 1024x1024, at 0.25 MP 512x512; the service resizes to the requested size.
        return {
            "prompt": request.prompt,
            "aspect_ratio": "1:1",
            "seed": request.seed,
            "output_format": self._output_format,
            "num_outputs": 1,
            "go_fast": False,  # go_fast (the default) is not deterministic even with a seed
            "megapixels": "0.25" if request.size <= SMALL_MEGAPIXELS_SIZE else "1",
        }

    @staticmethod
    def rendered_size(size: int) -> int:
        """The side of the square Replicate renders (and bills) for a request of ``size`` px."""
        return SMALL_MEGAPIXELS_SIZE if size <= SMALL_MEGAPIXELS_SIZE else 1024

    def _generate(self, request: ProviderRequest) -> ProviderResult:
        started = time.perf_counter()
        left = self._time_left()  # of the generation's deadline (None: no deadline)
        limit = self._deadline_seconds if left is None else min(self._deadline_seconds, left)
        deadline = self._clock() + limit
        model = self.model_for(request.quality)
        # Replicate holds the request for up to the wait: within a deadline, short enough that
        # the prediction (and its id, to cancel it) comes back before the deadline.
        wait = (
            self._wait_seconds
            if left is None
            else max(1, min(self._wait_seconds, int(left - ANSWER_MARGIN_S)))
        )
        prediction = self._call_json(
            "POST",
            f"{self._base_url}/v1/models/{model}/predictions",
            json_body={"input": self.build_input(request)},
            headers={"Prefer": f"wait={wait}"},
            # Read for a little longer than the wait, never longer than this adapter's own deadline.
            timeout=make_timeout(min(wait + ANSWER_MARGIN_S, self._deadline_seconds)),
        )
        prediction = self._wait(prediction, deadline, limit)
        image = self.load_image(self._output_url(prediction))
        side = self.rendered_size(request.size)
        return self.make_result(image, model, side, side, started)

    # -- queue (webhook mode) ---------------------------------------------------------------

    def submit(self, request: ProviderRequest, webhook_url: str | None = None) -> dict[str, Any]:
        """Create a prediction without waiting for it; Replicate POSTs the prediction to
        ``webhook_url`` (signed, Standard Webhooks) once it completes. Returns the prediction."""
        model = self.model_for(request.quality)
        body: dict[str, Any] = {"input": self.build_input(request)}
        if webhook_url:
            body["webhook"] = webhook_url
            body["webhook_events_filter"] = ["completed"]
        prediction = self._call_json(
            "POST",
            f"{self._base_url}/v1/models/{model}/predictions",
            json_body=body,
            timeout=make_timeout(10.0),  # no Prefer: wait, so the answer is immediate
        )
        safe_id(prediction.get("id"), self.name, "prediction id")
        return prediction

    def prediction(self, prediction_id: str) -> dict[str, Any]:
        """The prediction as Replicate reports it now."""
        return self._call_json(
            "GET", f"{self._base_url}/v1/predictions/{safe_id(prediction_id, self.name, 'prediction id')}"
        )

    def result_from_prediction(
        self, prediction: Mapping[str, Any], *, quality: str, size: int, started: float | None = None
    ) -> ProviderResult | None:
        """The result of a prediction (a poll or a webhook body); None while it is still running.
        Raises the typed error of a failed or canceled prediction."""
        if self._status(prediction) not in TERMINAL_STATUSES:
            return None
        model = self.model_for(quality)
        image = self.load_image(self._output_url(prediction))
        side = self.rendered_size(size)
        return self.make_result(image, model, side, side, time.perf_counter() if started is None else started)

    def cancel(self, prediction_id: str) -> None:
        """Best effort: stop a prediction we no longer wait for."""
        with contextlib.suppress(ProviderError):
            url = (
                f"{self._base_url}/v1/predictions/{safe_id(prediction_id, self.name, 'prediction id')}/cancel"
            )
            self._send("POST", url, timeout=make_timeout(5.0))

    # -- polling ---------------------------------------------------------------------------

    def _status(self, prediction: Mapping[str, Any]) -> str:
        """The prediction's status, one of the documented ones; anything else is :class:`ProviderDown`
        with the prediction's id (never a status to poll until the deadline)."""
        prediction_id = prediction.get("id")
        self.note_vendor_request_id(prediction_id)
        status = prediction.get("status")
        if status in RUNNING_STATUSES or status in TERMINAL_STATUSES:
            return str(status)
        shown = status if isinstance(status, str) else type(status).__name__
        raise ProviderDown(
            f"{self.name}: unexpected prediction status {str(shown)[:40]!r}",
            vendor_request_id=prediction_id if isinstance(prediction_id, str) else None,
        )

    def _poll_url(self, prediction: Mapping[str, Any]) -> str:
        urls = prediction.get("urls")
        get_url = urls.get("get") if isinstance(urls, dict) else None
        # Our token goes with the poll: follow urls.get only on the API's own host.
        if isinstance(get_url, str) and same_origin(get_url, self._base_url):
            return get_url
        prediction_id = safe_id(prediction.get("id"), self.name, "prediction id")
        return f"{self._base_url}/v1/predictions/{prediction_id}"

    def _wait(self, prediction: dict[str, Any], deadline: float, limit: float) -> dict[str, Any]:
        """Poll until the prediction ends; no sleep goes past ``deadline`` (``limit`` s from the start)."""
        delay = self._poll_interval
        while self._status(prediction) not in TERMINAL_STATUSES:
            if self._clock() + delay > deadline:
                self._cancel(prediction)  # with what is left of the deadline, if anything
                raise RetryableProviderError(
                    f"{self.name}: the prediction did not finish within {limit:.0f} s"
                )
            self._sleep(delay)
            prediction = self._call_json("GET", self._poll_url(prediction))
            delay = min(delay * 1.5, self._max_poll_interval)
        return prediction

    def _cancel(self, prediction: Mapping[str, Any]) -> None:
        """Best effort: a prediction we gave up on should stop costing money."""
        urls = prediction.get("urls")
        cancel_url = urls.get("cancel") if isinstance(urls, dict) else None
        if not (isinstance(cancel_url, str) and same_origin(cancel_url, self._base_url)):
            return
        with contextlib.suppress(ProviderError):
            self._send("POST", cancel_url, timeout=make_timeout(5.0))

    def _output_url(self, prediction: Mapping[str, Any]) -> str:
        status = self._status(prediction)
        if status == "failed":
            error = prediction.get("error")
            message = self._scrub(error if isinstance(error, str) else "")
            if any(marker in message.lower() for marker in CONTENT_POLICY_MARKERS):
                raise ContentRejected(f"{self.name}: {message}")
            # Model-side failures (OOM, a bad node) usually pass on a retry.
            reason = message or "no reason given"
            raise RetryableProviderError(f"{self.name}: the prediction failed: {reason}")
        if status in ("canceled", "aborted"):
            # aborted: past its deadline before it could start (Replicate had no capacity for it).
            raise RetryableProviderError(f"{self.name}: the prediction was {status}")
        output = prediction.get("output")
        if isinstance(output, list):
            output = output[0] if output else None
        if not isinstance(output, str) or not output:
            raise ProviderDown(f"{self.name}: the prediction succeeded without an output")
        return output
