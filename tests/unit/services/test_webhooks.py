"""ReceiveWebhook: a provider's completion callback verified against the raw body (Replicate:
Standard Webhooks; RunPod: the per-job secret in the URL), then acted on once."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.domain.errors import InvalidRequest, NotFound, ProviderUnavailable, Unauthorized
from chalicelib.domain.generation import Failure, Generation
from chalicelib.domain.webhook_signatures import sign_standard_webhook
from chalicelib.ports import RetryableProviderError, StoreError
from tests.unit.services.fakes import FakeQueuedProvider
from tests.unit.services.wiring import USER, Build, UseCases

SECRET = "whsec_" + base64.b64encode(b"replicate-unit-test-secret-32byt").decode()


def signed(use_cases: UseCases, body: bytes, msg_id: str = "msg_1", secret: str = SECRET) -> dict[str, str]:
    ts = int(use_cases.clock.time())
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(ts),
        "Webhook-Signature": sign_standard_webhook(secret, msg_id, ts, body),
    }


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def at_replicate(build: Build, **knobs: Any) -> tuple[UseCases, FakeQueuedProvider, Generation]:
    replicate = FakeQueuedProvider("replicate", **knobs)
    use_cases = build(queued=[replicate], replicate_secret=SECRET)
    running = use_cases.claimed(USER)
    assert use_cases.submit.submit(running, use_cases.submit.candidates("fast")) is not None
    return use_cases, replicate, use_cases.record(running.id)


def deliver(use_cases: UseCases, generation: Generation, doc: Any, msg_id: str = "msg_1") -> str:
    raw = body(doc)
    return use_cases.webhooks.receive(
        "replicate", signed(use_cases, raw, msg_id), {"job": generation.id}, raw
    )


def test_a_verified_delivery_ends_the_waiting_job(build: Build) -> None:
    use_cases, _, generation = at_replicate(build)
    assert deliver(use_cases, generation, {"id": "replicate-job-1", "status": "succeeded"}) == "done"
    stored = use_cases.record(generation.id)
    assert (stored.status, stored.provider) == ("succeeded", "replicate")


def test_the_same_delivery_twice_does_nothing_twice(build: Build) -> None:
    use_cases, _, generation = at_replicate(build)
    doc = {"id": "replicate-job-1", "status": "succeeded"}
    assert deliver(use_cases, generation, doc) == "done"
    assert deliver(use_cases, generation, doc) == "duplicate"


def test_a_bad_signature_is_refused(build: Build) -> None:
    use_cases, _, generation = at_replicate(build)
    raw = body({"id": "replicate-job-1", "status": "succeeded"})
    other = "whsec_" + base64.b64encode(b"somebody-elses-secret-0123456789").decode()
    with pytest.raises(Unauthorized):
        use_cases.webhooks.receive(
            "replicate", signed(use_cases, raw, secret=other), {"job": generation.id}, raw
        )
    tampered = body({"id": "replicate-job-1", "status": "succeeded", "x": 1})
    with pytest.raises(Unauthorized):
        use_cases.webhooks.receive("replicate", signed(use_cases, raw), {"job": generation.id}, tampered)
    assert use_cases.record(generation.id).status == "running"


def test_a_stale_delivery_is_refused(build: Build) -> None:
    use_cases, _, generation = at_replicate(build)
    raw = body({"id": "replicate-job-1", "status": "succeeded"})
    headers = signed(use_cases, raw)
    use_cases.clock.advance(301)
    with pytest.raises(Unauthorized):
        use_cases.webhooks.receive("replicate", headers, {"job": generation.id}, raw)


def test_without_a_configured_secret_nothing_verifies(build: Build) -> None:
    replicate = FakeQueuedProvider("replicate")
    use_cases = build(queued=[replicate], replicate_secret="")
    raw = body({"id": "x"})
    with pytest.raises(Unauthorized):
        use_cases.webhooks.receive("replicate", signed(use_cases, raw), {}, raw)


@pytest.mark.parametrize("provider", ["fal", "stripe", "runpod"])
def test_a_webhook_of_a_provider_not_in_use_is_not_found(build: Build, provider: str) -> None:
    use_cases, _, generation = at_replicate(build)
    with pytest.raises(NotFound):
        use_cases.webhooks.receive(provider, {}, {"job": generation.id}, b"{}")


def test_a_body_that_is_not_json_is_an_invalid_request(build: Build) -> None:
    use_cases, _, generation = at_replicate(build)
    raw = b"\xff not json"
    with pytest.raises(InvalidRequest):
        use_cases.webhooks.receive("replicate", signed(use_cases, raw), {"job": generation.id}, raw)


def test_a_delivery_about_another_provider_job_is_ignored(build: Build) -> None:
    use_cases, _, generation = at_replicate(build)
    assert deliver(use_cases, generation, {"id": "someone-elses", "status": "succeeded"}) == "ignored"
    assert use_cases.record(generation.id).status == "running"
    raw = body({"id": "replicate-job-1", "status": "succeeded"})
    no_job = use_cases.webhooks.receive("replicate", signed(use_cases, raw, "msg_2"), {}, raw)
    assert no_job == "ignored"


def test_a_delivery_about_an_ended_job_is_ignored(build: Build) -> None:
    use_cases, _, generation = at_replicate(build)
    use_cases.finish.fail(generation, Failure("internal", "ended elsewhere"))
    assert deliver(use_cases, generation, {"id": "replicate-job-1", "status": "succeeded"}) == "ignored"


def test_a_failed_provider_job_is_submitted_again(build: Build) -> None:
    use_cases, _, generation = at_replicate(build)
    assert deliver(use_cases, generation, {"id": "replicate-job-1", "status": "failed"}) == "failed"
    assert use_cases.record(generation.id).status == "queued"
    assert use_cases.queue.jobs() == [generation.id]


def test_a_transient_failure_asks_for_the_delivery_again(build: Build) -> None:
    use_cases, replicate, generation = at_replicate(build, answers=[RetryableProviderError("output 502")])
    doc = {"id": "replicate-job-1", "status": "processing"}
    with pytest.raises(ProviderUnavailable) as retry:
        deliver(use_cases, generation, doc)
    assert retry.value.retry_after == 5
    replicate.answers = [None]
    replicate.polls = 0
    # the replay marker was dropped: the redelivery is processed, not a duplicate
    assert deliver(use_cases, generation, doc) == "pending"
    assert use_cases.record(generation.id).status == "running"


def test_runpod_is_verified_by_the_per_job_secret_in_its_url(build: Build) -> None:
    runpod = FakeQueuedProvider("runpod", signs_webhooks=False)
    use_cases = build(queued=[runpod])
    running = use_cases.claimed(USER)
    use_cases.submit.submit(running, use_cases.submit.candidates("fast"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(runpod.submitted[0][1] or "").query).items()}
    raw = body({"id": "runpod-job-1", "status": "succeeded"})
    for token in ("", "wrong-token"):
        with pytest.raises(Unauthorized):
            use_cases.webhooks.receive("runpod", {}, {**query, "token": token}, raw)
    assert use_cases.record(running.id).status == "running"
    assert use_cases.webhooks.receive("runpod", {}, query, raw) == "done"
    assert use_cases.record(running.id).status == "succeeded"


def test_a_delivery_that_failed_half_way_is_processed_when_delivered_again(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_cases, _, generation = at_replicate(build)
    generations = use_cases.webhooks._generations
    real_get = generations.get

    def unreachable(generation_id: str) -> Generation | None:
        raise StoreError("store unreachable")

    monkeypatch.setattr(generations, "get", unreachable)
    doc = {"id": "replicate-job-1", "status": "succeeded"}
    with pytest.raises(StoreError):
        deliver(use_cases, generation, doc)
    monkeypatch.setattr(generations, "get", real_get)
    # Not "duplicate": nothing was acted on, so the provider's redelivery (seconds later) is.
    assert deliver(use_cases, generation, doc) == "done"
    assert use_cases.record(generation.id).status == "succeeded"
