"""Providers' queue APIs, for webhook mode: submit a job with a callback URL, poll it, read its webhook.

In webhook mode (``AVATARFLOW_PUBLIC_URL`` set) no Lambda waits on a GPU: a lane worker submits the
job to a provider's queue API with ``…/v1/webhooks/{provider}?job=<id>`` as the callback and
returns; the provider calls back when it is done (``chalicelib/api/webhooks.py``), and a poller
(the reaper) reads the job's status if the callback never comes.

Three vendors offer such an API (see each adapter's docstring for the sources):

- fal: ``POST https://queue.fal.run/{model}?fal_webhook=<url>`` → ``request_id``, ``status_url``,
  ``response_url``; the webhook body is ``{"request_id", "status": "OK"|"ERROR", "payload",
  "error"?}``, signed with ED25519 (``chalicelib.domain.webhook_signatures``);
- Replicate: a prediction created without ``Prefer: wait`` with ``webhook`` and
  ``webhook_events_filter: ["completed"]``; the webhook body is the prediction, signed per the
  Standard Webhooks spec;
- RunPod: ``POST /v2/{endpoint}/run`` with ``webhook``; the body is the job as ``/status`` reports
  it. RunPod signs nothing: the callback URL carries a per-job secret (stored hashed on the job).

A :class:`ProviderJob` (``domain/provider_job.py``) is what the generation keeps of the job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from chalicelib.adapters.providers.answers import CONTENT_POLICY_MARKERS
from chalicelib.adapters.providers.fal import FalProvider
from chalicelib.adapters.providers.progress import percent_in_logs, queue_position, runpod_percent
from chalicelib.adapters.providers.replicate import RUNNING_STATUSES, TERMINAL_STATUSES, ReplicateProvider
from chalicelib.adapters.providers.runpod import FINAL_STATUSES, RunPodProvider
from chalicelib.adapters.providers.runpod import RUNNING_STATUSES as RUNPOD_RUNNING
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import (
    ContentRejected,
    ImageProvider,
    JobFailed,
    Pending,
    ProviderDown,
    ProviderError,
    ProviderRequest,
    ProviderResult,
    QueuedProvider,
    RetryableProviderError,
)

AdapterT = TypeVar("AdapterT", FalProvider, ReplicateProvider, RunPodProvider)


def _read_output(produce: Callable[[], ProviderResult]) -> ProviderResult:
    """The output of a job the provider reports done: a refusal or an unusable output fails the
    job; a retryable error (timeout, 5xx, a failed download) may pass when read again."""
    try:
        return produce()
    except RetryableProviderError:
        raise
    except ProviderError as exc:
        raise JobFailed(exc) from None


def _failure(produce: Callable[[], Any], fallback: str) -> JobFailed:
    """The typed error of a job the provider reports failed, as :class:`JobFailed`."""
    try:
        produce()
    except ProviderError as exc:
        return JobFailed(exc)
    return JobFailed(RetryableProviderError(fallback))


def _job_id(payload: Any, field: str) -> str:
    value = payload.get(field) if isinstance(payload, dict) else None
    return value if isinstance(value, str) else ""


class _AdapterQueue(Generic[AdapterT]):
    """What the three queue APIs share: the adapter, its qualities, the delivery's job id, a
    webhook body that must be an object, and cancel by job id."""

    name = "provider"
    signs_webhooks = True
    job_id_field = "id"  # where a webhook body names the provider's job

    def __init__(self, adapter: AdapterT) -> None:
        self._adapter: AdapterT = adapter

    def supports(self, quality: str) -> bool:
        return self._adapter.supports(quality)

    def delivery_job_id(self, payload: Any) -> str:
        return _job_id(payload, self.job_id_field)

    def from_webhook(
        self, job: ProviderJob, payload: Any, *, quality: str, size: int
    ) -> ProviderResult | Pending | None:
        if not isinstance(payload, dict):
            raise JobFailed(ProviderDown(f"{self.name}: the webhook body is not an object"))
        return self._from_body(job, payload, quality, size)

    def _from_body(
        self, job: ProviderJob, body: dict[str, Any], quality: str, size: int
    ) -> ProviderResult | Pending | None:
        raise NotImplementedError

    def cancel(self, job: ProviderJob) -> None:
        self._adapter.cancel(job.id)


class FalQueue(_AdapterQueue[FalProvider]):
    name = "fal"
    job_id_field = "request_id"

    def submit(self, request: ProviderRequest, webhook_url: str | None) -> ProviderJob:
        sub = self._adapter.submit_job(request, webhook_url)
        return ProviderJob(
            "fal",
            sub.request_id,
            status_url=sub.status_url,
            response_url=sub.response_url,
            cancel_url=sub.cancel_url or "",
        )

    def poll(self, job: ProviderJob, *, quality: str, size: int) -> ProviderResult | Pending | None:
        doc = self._adapter.status_detail(job.status_url)
        status = str(doc.get("status", "")).upper()
        if status == "IN_QUEUE":
            return Pending(running=False, queue_position=queue_position(doc))
        if status == "IN_PROGRESS":
            return Pending(percent=percent_in_logs(doc.get("logs")))
        if status != "COMPLETED":
            raise JobFailed(_unknown_status("fal", doc.get("status"), job.id))
        return _read_output(lambda: self._adapter.result(job.response_url, quality=quality, size=size))

    def _from_body(
        self, job: ProviderJob, payload: dict[str, Any], quality: str, size: int
    ) -> ProviderResult | None:
        status = str(payload.get("status", "")).upper()
        output = payload.get("payload")
        model = self._adapter.model_for(quality)
        if status == "OK" and isinstance(output, dict):
            return _read_output(lambda: self._adapter.result_from_payload(output, model=model, size=size))
        if status == "OK" and not job.response_url:
            # An adopted job (its handle was never written: services/generation/webhooks.py) has no response
            # URL to read it from: not a failure of the job; its lane submits it again later.
            raise RetryableProviderError("fal: the output is not in the webhook and no response URL is known")
        if status == "OK":
            # fal could not put the output in the webhook (payload_error): read it from the queue.
            return _read_output(lambda: self._adapter.result(job.response_url, quality=quality, size=size))
        if status != "ERROR":
            raise JobFailed(_unknown_status("fal", payload.get("status"), job.id))
        detail = (str(payload.get("error") or "") + " " + json.dumps(output)[:500]).lower()
        if any(marker in detail for marker in CONTENT_POLICY_MARKERS):
            raise JobFailed(
                ContentRejected("fal: the request was refused on content grounds", vendor_request_id=job.id)
            )
        raise JobFailed(
            RetryableProviderError("fal: the queued request failed (ERROR)", vendor_request_id=job.id)
        )

    def cancel(self, job: ProviderJob) -> None:
        if job.cancel_url:
            self._adapter.cancel(job.cancel_url)


class ReplicateQueue(_AdapterQueue[ReplicateProvider]):
    name = "replicate"

    def submit(self, request: ProviderRequest, webhook_url: str | None) -> ProviderJob:
        prediction = self._adapter.submit(request, webhook_url)
        urls = prediction.get("urls")
        urls = urls if isinstance(urls, dict) else {}
        return ProviderJob(
            "replicate",
            str(prediction["id"]),
            status_url=str(urls.get("get") or ""),
            cancel_url=str(urls.get("cancel") or ""),
        )

    def poll(self, job: ProviderJob, *, quality: str, size: int) -> ProviderResult | Pending | None:
        return self._interpret(self._adapter.prediction(job.id), quality, size)

    def _from_body(
        self, job: ProviderJob, body: dict[str, Any], quality: str, size: int
    ) -> ProviderResult | Pending | None:
        return self._interpret(body, quality, size)

    def _interpret(
        self, prediction: dict[str, Any], quality: str, size: int
    ) -> ProviderResult | Pending | None:
        status = prediction.get("status")
        if status in RUNNING_STATUSES:
            return Pending(running=status == "processing", percent=percent_in_logs(prediction.get("logs")))
        if status not in TERMINAL_STATUSES:
            raise JobFailed(_unknown_status("replicate", status, prediction.get("id")))

        def produce() -> ProviderResult | None:
            return self._adapter.result_from_prediction(prediction, quality=quality, size=size)

        if status != "succeeded":
            raise _failure(produce, f"replicate: the prediction ended {status}")
        return _read_output(lambda: produce() or _missing("replicate"))


class RunPodQueue(_AdapterQueue[RunPodProvider]):
    name = "runpod"
    signs_webhooks = False

    def submit(self, request: ProviderRequest, webhook_url: str | None) -> ProviderJob:
        return ProviderJob("runpod", self._adapter.submit(request, webhook_url))

    def poll(self, job: ProviderJob, *, quality: str, size: int) -> ProviderResult | Pending | None:
        return self._interpret(self._adapter.status(job.id), quality, size)

    def _from_body(
        self, job: ProviderJob, body: dict[str, Any], quality: str, size: int
    ) -> ProviderResult | Pending | None:
        return self._interpret(body, quality, size)

    def _interpret(self, doc: dict[str, Any], quality: str, size: int) -> ProviderResult | Pending | None:
        status = str(doc.get("status", "")).upper()
        if status not in FINAL_STATUSES and status not in RUNPOD_RUNNING:
            raise JobFailed(_unknown_status("runpod", doc.get("status"), doc.get("id")))
        if status not in FINAL_STATUSES:
            running = status in ("IN_PROGRESS", "RUNNING")
            return Pending(running=running, percent=runpod_percent(doc.get("output")) if running else None)

        def produce() -> ProviderResult | None:
            return self._adapter.result_from_job(doc, quality=quality, size=size)

        output = doc.get("output")
        if status != "COMPLETED" or (isinstance(output, dict) and isinstance(output.get("error"), str)):
            raise _failure(produce, f"runpod: the job ended {status}")
        return _read_output(lambda: produce() or _missing("runpod"))


def _unknown_status(provider: str, status: Any, job_id: Any) -> ProviderDown:
    """A status the vendor does not document: the job ends here (and fails over), with its id,
    rather than waiting for the reaper."""
    shown = status if isinstance(status, str) else type(status).__name__
    return ProviderDown(
        f"{provider}: unexpected job status {str(shown)[:40]!r}",
        vendor_request_id=job_id if isinstance(job_id, str) else None,
    )


def _missing(provider: str) -> ProviderResult:
    raise ProviderDown(f"{provider}: a finished job without a result")


def as_queued(provider: ImageProvider) -> QueuedProvider | None:
    """The queue API of an adapter that has one (fal, Replicate, RunPod), else None."""
    if isinstance(provider, FalProvider):
        return FalQueue(provider)
    if isinstance(provider, ReplicateProvider):
        return ReplicateQueue(provider)
    if isinstance(provider, RunPodProvider):
        return RunPodQueue(provider)
    return None


class QueuedProviders:
    """:class:`chalicelib.ports.ProviderQueues`: the queue-capable providers behind the configured
    provider, per quality, in route order."""

    def __init__(self, provider: ImageProvider) -> None:
        self._provider = provider
        self._by_name: dict[str, QueuedProvider] = {}
        for quality in ("fast", "standard", "pro"):
            for queued in self._wrap(quality):
                self._by_name.setdefault(queued.name, queued)

    def _wrap(self, quality: str) -> list[QueuedProvider]:
        wrapped = [as_queued(adapter) for adapter in self._provider.candidates(quality)]
        return [q for q in wrapped if q is not None and q.supports(quality)]

    def for_quality(self, quality: str) -> list[QueuedProvider]:
        return [self._by_name[q.name] for q in self._wrap(quality)]

    def get(self, name: str) -> QueuedProvider | None:
        return self._by_name.get(name)

    @property
    def available(self) -> bool:
        return bool(self._by_name)
