"""Every status and answer shape the vendors document, through the real adapters and their queue
APIs against the shared stand-ins (``stack/standins``, in an httpx transport: no network), and
what an answer of an unknown shape or status becomes: a typed error that ends the job (and fails
over) with the vendor's request id, never a job left running until the reaper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chalicelib.adapters.providers.fal import FalProvider
from chalicelib.adapters.providers.openai import OpenAIProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.queued import FalQueue, ReplicateQueue, RunPodQueue
from chalicelib.adapters.providers.replicate import ReplicateProvider
from chalicelib.adapters.providers.runpod import RunPodProvider
from chalicelib.adapters.providers.together import TogetherProvider
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import (
    ContentRejected,
    JobFailed,
    Pending,
    ProviderDown,
    ProviderResult,
    RetryableProviderError,
)
from stack.standins import FAL_KEY, OPENAI_KEY, REPLICATE_TOKEN, TOGETHER_KEY, StandIns
from tests.unit.providers.helpers import make_request


@pytest.fixture
def standins() -> StandIns:
    return StandIns()


@pytest.fixture
def fal(standins: StandIns) -> Iterator[FalProvider]:
    provider = FalProvider(FAL_KEY, ProviderOptions(transport=standins.transport()))
    yield provider
    provider.close()


@pytest.fixture
def replicate(standins: StandIns) -> Iterator[ReplicateProvider]:
    provider = ReplicateProvider(
        REPLICATE_TOKEN, ProviderOptions(transport=standins.transport(), sleep=lambda s: None)
    )
    yield provider
    provider.close()


# -- fal --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quality", ["fast", "standard", "pro"])
def test_fal_sends_each_model_only_the_fields_of_its_schema(fal: FalProvider, quality: str) -> None:
    """The stand-in refuses (422) any field the model's current schema does not have."""
    result = fal.generate(make_request(quality))
    assert isinstance(result, ProviderResult)


def test_fal_pro_has_safety_tolerance_and_no_safety_checker(fal: FalProvider) -> None:
    body = fal.build_input(make_request("pro"), "fal-ai/flux-pro/v1.1")
    assert body["safety_tolerance"] == "2"
    assert "enable_safety_checker" not in body and "num_inference_steps" not in body
    schnell = fal.build_input(make_request("fast"), "fal-ai/flux/schnell")
    assert schnell["enable_safety_checker"] is True and "safety_tolerance" not in schnell


def test_fal_queue_is_202_while_queued_then_in_progress_then_the_result(
    fal: FalProvider, standins: StandIns
) -> None:
    standins.shared.script("fal", "queued")
    queue = FalQueue(fal)
    job = queue.submit(make_request("fast"), None)
    assert queue.poll(job, quality="fast", size=512) == Pending(running=False, queue_position=0)
    in_progress = queue.poll(job, quality="fast", size=512)
    assert isinstance(in_progress, Pending) and in_progress.running and in_progress.percent == 50.0
    assert isinstance(queue.poll(job, quality="fast", size=512), ProviderResult)


def test_fal_an_unknown_queue_status_ends_the_job_with_its_request_id(
    fal: FalProvider, standins: StandIns
) -> None:
    standins.shared.script("fal", "unknown_status")
    queue = FalQueue(fal)
    job = queue.submit(make_request("fast"), None)
    with pytest.raises(JobFailed) as caught:
        queue.poll(job, quality="fast", size=512)
    assert isinstance(caught.value.error, ProviderDown)
    assert caught.value.error.vendor_request_id == job.id


def _fal_webhook(
    standins: StandIns, fal: FalProvider, outcome: str
) -> tuple[FalQueue, ProviderJob, dict[str, Any]]:
    standins.shared.script("fal", outcome)
    queue = FalQueue(fal)
    job = queue.submit(make_request("fast"), "https://avatars.example/v1/webhooks/fal?job=gen_1")
    standins.shared.senders.shutdown(wait=True)  # the job ends and its webhook is "sent"
    vendor, _, body, headers = standins.shared.sent[-1]
    assert vendor == "fal" and headers["X-Fal-Webhook-Request-Id"] == job.id
    return queue, job, json.loads(body)


def test_fal_an_error_webhook_fails_the_job(fal: FalProvider, standins: StandIns) -> None:
    queue, job, body = _fal_webhook(standins, fal, "error")
    assert body["status"] == "ERROR" and body["error"]
    with pytest.raises(JobFailed) as caught:
        queue.from_webhook(job, body, quality="fast", size=512)
    assert isinstance(caught.value.error, ContentRejected)  # fal's 422 content_policy_violation


def test_fal_a_payload_error_webhook_reads_the_output_from_the_queue(
    fal: FalProvider, standins: StandIns
) -> None:
    queue, job, body = _fal_webhook(standins, fal, "payload_error")
    assert body["status"] == "OK" and body["payload"] is None and body["payload_error"]
    assert isinstance(queue.from_webhook(job, body, quality="fast", size=512), ProviderResult)


def test_fal_an_nsfw_flagged_result_is_content_rejected(fal: FalProvider, standins: StandIns) -> None:
    queue, job, body = _fal_webhook(standins, fal, "nsfw")
    assert body["payload"]["has_nsfw_concepts"] == [True]
    with pytest.raises(JobFailed) as caught:
        queue.from_webhook(job, body, quality="fast", size=512)
    assert isinstance(caught.value.error, ContentRejected)
    standins.shared.script("fal", "nsfw")
    with pytest.raises(ContentRejected):
        fal.generate(make_request("fast"))


def test_fal_a_webhook_of_an_unknown_status_ends_the_job(fal: FalProvider, standins: StandIns) -> None:
    queue, job, body = _fal_webhook(standins, fal, "ok")
    with pytest.raises(JobFailed) as caught:
        queue.from_webhook(job, {**body, "status": "MAYBE"}, quality="fast", size=512)
    assert isinstance(caught.value.error, ProviderDown)
    assert caught.value.error.vendor_request_id == job.id


# -- Replicate --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [512, 1024])
def test_replicate_sends_go_fast_false_and_megapixels_the_schema_accepts(
    replicate: ReplicateProvider, standins: StandIns, size: int
) -> None:
    result = replicate.generate(make_request("standard", size=size))
    assert isinstance(result, ProviderResult)
    (prediction,) = standins.replicate.predictions.values()
    assert prediction["input"]["go_fast"] is False
    assert prediction["input"]["megapixels"] == ("0.25" if size == 512 else "1")


def test_replicate_starting_after_the_wait_is_polled_to_the_end(
    replicate: ReplicateProvider, standins: StandIns
) -> None:
    standins.shared.script("replicate", "slow")
    assert isinstance(replicate.generate(make_request("fast")), ProviderResult)
    (prediction,) = standins.replicate.predictions.values()
    assert prediction["status"] == "succeeded" and prediction["started_at"]


def test_replicate_aborted_fails_over_at_once(replicate: ReplicateProvider, standins: StandIns) -> None:
    standins.shared.script("replicate", "aborted")
    with pytest.raises(RetryableProviderError, match="aborted") as caught:
        replicate.generate(make_request("fast"))
    (prediction_id,) = standins.replicate.predictions
    assert caught.value.vendor_request_id == prediction_id


def test_replicate_queue_aborted_and_unknown_statuses_end_the_job(
    replicate: ReplicateProvider, standins: StandIns
) -> None:
    queue = ReplicateQueue(replicate)
    standins.shared.script("replicate", "aborted", "unknown_status")
    aborted = queue.submit(make_request("fast"), None)
    with pytest.raises(JobFailed) as caught:
        queue.poll(aborted, quality="fast", size=512)
    assert caught.value.error.kind == "retryable"  # a new submission, elsewhere or later
    unknown = queue.submit(make_request("fast"), None)
    with pytest.raises(JobFailed) as caught:
        queue.poll(unknown, quality="fast", size=512)
    assert isinstance(caught.value.error, ProviderDown)
    assert caught.value.error.vendor_request_id == unknown.id


def test_replicate_an_aborted_webhook_ends_the_job(replicate: ReplicateProvider, standins: StandIns) -> None:
    standins.shared.script("replicate", "aborted")
    queue = ReplicateQueue(replicate)
    job = queue.submit(make_request("fast"), "https://avatars.example/v1/webhooks/replicate?job=gen_1")
    standins.shared.senders.shutdown(wait=True)
    _, _, body, _ = standins.shared.sent[-1]
    assert json.loads(body)["status"] == "aborted"
    with pytest.raises(JobFailed):
        queue.from_webhook(job, json.loads(body), quality="fast", size=512)


def test_replicate_cancel_answers_the_whole_prediction(standins: StandIns) -> None:
    standins.shared.script("replicate", "slow")
    client = httpx.Client(
        transport=standins.transport(), headers={"Authorization": f"Bearer {REPLICATE_TOKEN}"}
    )
    created = client.post(
        "https://api.replicate.com/v1/models/black-forest-labs/flux-schnell/predictions",
        json={"input": {"prompt": "a fox"}},
    ).json()
    canceled = client.post(created["urls"]["cancel"]).json()
    assert canceled["id"] == created["id"] and canceled["status"] == "canceled"
    assert canceled["urls"] == created["urls"] and canceled["completed_at"]


# -- RunPod, Together, OpenAI -----------------------------------------------------------------------


def test_runpod_an_unknown_job_status_ends_the_job_with_its_id() -> None:
    queue = RunPodQueue(RunPodProvider("rp-key-0123456789", "endpoint-1"))
    job = ProviderJob("runpod", "job-123")
    assert isinstance(
        queue.from_webhook(job, {"id": "job-123", "status": "IN_QUEUE"}, quality="fast", size=512), Pending
    )
    with pytest.raises(JobFailed) as caught:
        queue.from_webhook(job, {"id": "job-123", "status": "HALF_DONE"}, quality="fast", size=512)
    assert isinstance(caught.value.error, ProviderDown)
    assert caught.value.error.vendor_request_id == "job-123"


def test_together_reads_the_item_by_its_type_and_refuses_an_unknown_type(standins: StandIns) -> None:
    provider = TogetherProvider(TOGETHER_KEY, ProviderOptions(transport=standins.transport()))
    assert isinstance(provider.generate(make_request("fast")), ProviderResult)
    standins.shared.script("together", "unknown_type")
    with pytest.raises(ProviderDown, match="unexpected image type") as caught:
        provider.generate(make_request("fast"))
    assert caught.value.vendor_request_id  # Together's answer id
    provider.close()


def test_openai_against_the_stand_in(standins: StandIns) -> None:
    provider = OpenAIProvider(OPENAI_KEY, ProviderOptions(transport=standins.transport()))
    assert provider.generate(make_request("pro")).model == "gpt-image-1"
    standins.shared.script("openai", "url")
    with pytest.raises(ProviderDown) as caught:
        provider.generate(make_request("pro"))
    assert str(caught.value.vendor_request_id).startswith("req_")
    provider.close()
