"""RunPod serverless adapter: a FLUX worker on your own RunPod endpoint.

Confirmed against (via the reference search):

- RunPod docs, endpoint operation reference (docs.runpod.io/serverless/endpoints/operation-reference
  and .../job-operations): ``POST https://api.runpod.ai/v2/{endpoint_id}/runsync`` waits for the
  job (90 s by default, adjustable with ``?wait=<ms>``, 1000-300000) and ``POST .../run`` queues
  it; both take ``{"input": {...}}`` (``/run`` also ``"webhook": url``); ``GET
  .../status/{job_id}`` re-reads a job; ``POST .../cancel/{job_id}`` cancels it.
- runpod/runpod-python ``runpod/endpoint/runner.py``: ``Authorization: Bearer <api key>``; a
  runsync answer whose status is not final is followed by polling ``{endpoint}/status/{id}``;
  final states are COMPLETED, FAILED, CANCELLED, TIMED_OUT (IN_QUEUE and IN_PROGRESS are not;
  runpod/docs "Job states" also lists RUNNING). Any other status is :class:`ProviderDown`
  (checked 2026-12-07).
- ``output`` is whatever the worker returns. Supported here: ``[{"image": ...}]``,
  ``{"image": ...}``, ``{"images": [...]}`` (items strings or ``{"image"|"url": ...}``) and a bare
  string, where each image is an https URL (on the configured hosts), a ``data:`` URI or raw
  base64. The worker's input schema is yours: ``input_extra`` adds or overrides keys.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.key_pool import KeyPool
from chalicelib.adapters.outbound.fetch import RUNPOD_ALLOWED_HOSTS
from chalicelib.adapters.providers.answers import CONTENT_POLICY_MARKERS, nsfw_flagged, safe_id
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

RUNPOD_MODELS: Mapping[str, str] = {"fast": "flux-schnell", "standard": "flux-dev"}
RUNPOD_STEPS: Mapping[str, int] = {"flux-schnell": 4, "flux-dev": 28}
FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
# Not final: waiting, or on a worker (RunPod's "Job states" page also names RUNNING).
RUNNING_STATUSES = frozenset({"IN_QUEUE", "IN_PROGRESS", "RUNNING"})
ANSWER_MARGIN_S = 5.0  # after the runsync wait, time for the answer (and, within a deadline, a poll)


class RunPodProvider(HttpProvider):
    """:class:`chalicelib.ports.ImageProvider` for a RunPod serverless endpoint."""

    name = "runpod"
    default_allowed_hosts = RUNPOD_ALLOWED_HOSTS
    default_read_timeout = 20.0  # status polls; runsync gets its wait + margin
    default_base_url = "https://api.runpod.ai"
    default_models = RUNPOD_MODELS
    default_steps = RUNPOD_STEPS

    def __init__(
        self,
        api_key: str | KeyPool,
        endpoint_id: str,
        options: ProviderOptions | None = None,
        *,
        steps: Mapping[str, int] | None = None,
        input_extra: Mapping[str, Any] | None = None,
        sync_wait_seconds: float = 30.0,
        deadline_seconds: float = 90.0,
        poll_interval: float = 0.5,
        max_poll_interval: float = 4.0,
    ) -> None:
        super().__init__(api_key, options, steps=steps)
        self._endpoint_id = safe_id(endpoint_id, self.name, "endpoint id") if endpoint_id else ""
        if not self._endpoint_id:
            raise ValueError("runpod: an endpoint id is required")
        self._input_extra = dict(input_extra or {})
        # RunPod accepts 1..300 s; keep the HTTP read just above it.
        self._sync_wait = max(1.0, min(300.0, sync_wait_seconds))
        self._deadline_seconds = deadline_seconds
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval

    @property
    def _endpoint_url(self) -> str:
        return f"{self._base_url}/v2/{self._endpoint_id}"

    def build_input(self, request: ProviderRequest, model: str) -> dict[str, Any]:
        worker_input: dict[str, Any] = {
            "prompt": request.prompt,
            "seed": request.seed,
            "width": request.size,
            "height": request.size,
        }
        steps = self._steps.get(model)
        if steps is not None:
            worker_input["num_inference_steps"] = steps
        worker_input.update(self._input_extra)
        return worker_input

    def _generate(self, request: ProviderRequest) -> ProviderResult:
        started = time.perf_counter()
        left = self._time_left()  # of the generation's deadline (None: no deadline)
        limit = self._deadline_seconds if left is None else min(self._deadline_seconds, left)
        deadline = self._clock() + limit
        model = self.model_for(request.quality)
        # RunPod holds runsync for up to the wait: within a deadline, short enough that the job
        # (and its id, to cancel it) comes back before the deadline.
        wait = self._sync_wait if left is None else max(1.0, min(self._sync_wait, left - ANSWER_MARGIN_S))
        job = self._call_json(
            "POST",
            f"{self._endpoint_url}/runsync",
            json_body={"input": self.build_input(request, model)},
            params={"wait": str(int(wait * 1000))},
            # Read for a little longer than the wait, never longer than this adapter's own deadline.
            timeout=make_timeout(min(wait + ANSWER_MARGIN_S, self._deadline_seconds)),
        )
        job = self._wait(job, deadline, limit)
        image = self._image_from_job(job)
        return self.make_result(image, model, request.size, request.size, started)

    def submit(self, request: ProviderRequest, webhook_url: str | None = None) -> str:
        """Queue ``request`` with ``/run``; RunPod posts the finished job to ``webhook_url``."""
        model = self.model_for(request.quality)
        body: dict[str, Any] = {"input": self.build_input(request, model)}
        if webhook_url:
            body["webhook"] = webhook_url
        job = self._call_json("POST", f"{self._endpoint_url}/run", json_body=body, timeout=make_timeout(10.0))
        return safe_id(job.get("id"), self.name, "job id")

    def status(self, job_id: str) -> dict[str, Any]:
        """The job as RunPod reports it now."""
        return self._call_json("GET", f"{self._endpoint_url}/status/{safe_id(job_id, self.name, 'job id')}")

    def result_from_job(
        self, job: Mapping[str, Any], *, quality: str, size: int, started: float | None = None
    ) -> ProviderResult | None:
        """The result of a job (a ``/status`` answer or a webhook body); None while it is not final.
        Raises the typed error of a job that ended otherwise than COMPLETED."""
        if self._status(job) not in FINAL_STATUSES:
            return None
        model = self.model_for(quality)
        image = self._image_from_job(job)
        return self.make_result(image, model, size, size, time.perf_counter() if started is None else started)

    def cancel(self, job_id: str) -> None:
        """Best effort: stop a job we no longer wait for."""
        self._cancel(safe_id(job_id, self.name, "job id"))

    # -- polling ---------------------------------------------------------------------------

    def _status(self, job: Mapping[str, Any]) -> str:
        """The job's status, one of the documented ones; anything else is :class:`ProviderDown`
        with the job's id (never a status to poll until the deadline)."""
        job_id = job.get("id")
        self.note_vendor_request_id(job_id)
        status = job.get("status")
        upper = status.upper() if isinstance(status, str) else ""
        if upper in RUNNING_STATUSES or upper in FINAL_STATUSES:
            return upper
        shown = status if isinstance(status, str) else type(status).__name__
        raise ProviderDown(
            f"{self.name}: unexpected job status {str(shown)[:40]!r}",
            vendor_request_id=job_id if isinstance(job_id, str) else None,
        )

    def _wait(self, job: dict[str, Any], deadline: float, limit: float) -> dict[str, Any]:
        """Poll until the job ends; no sleep goes past ``deadline`` (``limit`` s from the start)."""
        delay = self._poll_interval
        while self._status(job) not in FINAL_STATUSES:
            job_id = safe_id(job.get("id"), self.name, "job id")
            if self._clock() + delay > deadline:
                self._cancel(job_id)  # with what is left of the deadline, if anything
                raise RetryableProviderError(f"{self.name}: the job did not finish within {limit:.0f} s")
            self._sleep(delay)
            job = self._call_json("GET", f"{self._endpoint_url}/status/{job_id}")
            delay = min(delay * 1.5, self._max_poll_interval)
        return job

    def _cancel(self, job_id: str) -> None:
        """Best effort: stop paying for GPU time we no longer wait for."""
        with contextlib.suppress(ProviderError):
            self._send("POST", f"{self._endpoint_url}/cancel/{job_id}", timeout=make_timeout(5.0))

    # -- output ----------------------------------------------------------------------------

    def _image_from_job(self, job: Mapping[str, Any]) -> bytes:
        status = self._status(job)
        output = job.get("output")
        if status != "COMPLETED":
            error = job.get("error")
            if not isinstance(error, str) and isinstance(output, dict):
                error = output.get("error")
            message = self._scrub(error if isinstance(error, str) else "")
            if status == "FAILED" and any(m in message.lower() for m in CONTENT_POLICY_MARKERS):
                raise ContentRejected(f"{self.name}: {message}")
            reason = message or "no reason given"
            raise RetryableProviderError(f"{self.name}: the job ended {status}: {reason}")
        if nsfw_flagged(output) or (isinstance(output, list) and any(nsfw_flagged(item) for item in output)):
            raise ContentRejected(f"{self.name}: the worker flagged the image")
        if isinstance(output, dict) and isinstance(output.get("error"), str):
            message = self._scrub(output["error"])
            if any(m in message.lower() for m in CONTENT_POLICY_MARKERS):
                raise ContentRejected(f"{self.name}: {message}")
            raise RetryableProviderError(f"{self.name}: the worker failed: {message}")
        return self.load_image(self._first_image(output), raw_base64=True)

    def _first_image(self, output: Any) -> str:
        candidate: Any = output
        if isinstance(candidate, dict):
            if "images" in candidate:
                candidate = candidate["images"]
            else:
                candidate = candidate.get("image") or candidate.get("url")
        if isinstance(candidate, list):
            candidate = candidate[0] if candidate else None
        if isinstance(candidate, dict):
            candidate = candidate.get("image") or candidate.get("url")
        if not isinstance(candidate, str) or not candidate:
            raise ProviderDown(f"{self.name}: the worker output holds no image")
        return candidate
