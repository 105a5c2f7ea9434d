"""Webhook mode: lane worker → provider queue API (+ callback URL) → signed webhook → succeeded.

The providers are the real adapters against fake https hosts mocked with respx (nothing reaches
the internet); each webhook is signed the way its provider signs it: fal with an ED25519 key
whose public half the fake JWKS serves, Replicate per the Standard Webhooks spec, RunPod not at
all (the per-job secret in the callback URL). Lanes are SQS queues on moto.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app import app
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, build_provider, set_container
from chalicelib.domain.webhook_signatures import fal_signed_message, sign_standard_webhook
from chalicelib.ports import Clock
from tests.conftest import FILES_BASE, auth, make_settings
from tests.fakes import FakeClock
from tests.lanes_harness import SqsLanes, bodies, sqs_lanes
from tests.unit.providers.helpers import png_bytes, public_resolver

PUBLIC_URL = "https://api.avatarflow.test"
FAL_QUEUE = "https://queue.fal.test"
FAL_SUBMIT = f"{FAL_QUEUE}/fal-ai/flux/schnell"
FAL_JWKS = "https://jwks.fal.test/.well-known/jwks.json"
FAL_OUTPUT = "https://v3.fal.media/files/rabbit/out.png"
REPLICATE = "https://replicate.test"
REPLICATE_SUBMIT = f"{REPLICATE}/v1/models/black-forest-labs/flux-schnell/predictions"
REPLICATE_OUTPUT = "https://replicate.delivery/xezq/p1/out-0.png"
REPLICATE_SECRET = "whsec_" + base64.b64encode(b"replicate-test-signing-secret-32").decode()
RUNPOD = "https://runpod.test"
PNG = png_bytes(64, (40, 120, 200))

FAL: dict[str, Any] = {
    "fal_key": "fal-webhook-key:0123456789abcdef",
    "fal_base_url": "https://fal.test",
    "fal_queue_base_url": FAL_QUEUE,
    "fal_jwks_url": FAL_JWKS,
}
REPLICATE_SETTINGS: dict[str, Any] = {
    "replicate_api_token": "r8_webhook_token_0123456789",
    "replicate_base_url": REPLICATE,
    "replicate_webhook_secret": REPLICATE_SECRET,
}
RUNPOD_SETTINGS: dict[str, Any] = {
    "runpod_api_key": "rp_webhook_key_0123456789",
    "runpod_endpoint_id": "ep123",
    "runpod_base_url": RUNPOD,
}

Wire = Callable[..., Container]


class FalSigner:
    """Signs webhooks as fal does, with a key that the fake JWKS publishes."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "fal-test-1"}]}

    def headers(
        self,
        request_id: str,
        body: bytes,
        *,
        timestamp: int | None = None,
        key: Ed25519PrivateKey | None = None,
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = (key or self.key).sign(fal_signed_message(request_id, "user-1", ts, body))
        return {
            "Content-Type": "application/json",
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": "user-1",
            "X-Fal-Webhook-Timestamp": ts,
            "X-Fal-Webhook-Signature": signature.hex(),
        }


def standard_headers(secret: str, body: bytes, msg_id: str, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard_webhook(secret, msg_id, ts, body),
    }


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> Iterator[SqsLanes]:
    with sqs_lanes(monkeypatch, max_receive_count=5) as queues:
        yield queues


@pytest.fixture
def signer() -> FalSigner:
    return FalSigner()


@pytest.fixture
def vendors(signer: FalSigner) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.get(FAL_JWKS).mock(return_value=httpx.Response(200, json=signer.jwks()))
        mock.get(FAL_OUTPUT).mock(
            return_value=httpx.Response(200, headers={"Content-Type": "image/png"}, content=PNG)
        )
        mock.get(REPLICATE_OUTPUT).mock(
            return_value=httpx.Response(200, headers={"Content-Type": "image/png"}, content=PNG)
        )
        yield mock


@pytest.fixture
def wire(
    tmp_path: Path,
    store: RedisStateStore,
    objects: LocalObjectStore,
    lanes: SqsLanes,
    vendors: respx.MockRouter,
) -> Iterator[Wire]:
    def build(*, clock: Clock | None = None, **overrides: Any) -> Container:
        values = {"public_url": PUBLIC_URL, **lanes.settings(), **overrides}
        settings = make_settings(tmp_path, **values)
        provider = build_provider(settings, store.breakers, resolver=public_resolver, clock=clock)
        container = build_container(
            settings, store=store, objects=objects, provider=provider, resolver=public_resolver, clock=clock
        )
        set_container(container)
        return container

    yield build
    set_container(None)


@pytest.fixture
def client() -> Iterator[Any]:
    with Client(app, stage_name="local") as test_client:
        yield test_client


def fal_submission(request_id: str = "req-1") -> httpx.Response:
    base = f"{FAL_QUEUE}/fal-ai/flux/requests/{request_id}"
    return httpx.Response(
        200,
        json={
            "request_id": request_id,
            "status_url": f"{base}/status",
            "response_url": base,
            "cancel_url": f"{base}/cancel",
        },
    )


def fal_output() -> dict[str, Any]:
    return {
        "images": [{"url": FAL_OUTPUT, "width": 512, "height": 512}],
        "has_nsfw_concepts": [False],
        "seed": 1,
    }


def fal_webhook(request_id: str = "req-1", status: str = "OK", **extra: Any) -> bytes:
    body: dict[str, Any] = {"request_id": request_id, "gateway_request_id": request_id, "status": status}
    body["payload"] = fal_output() if status == "OK" else None
    body.update(extra)
    return json.dumps(body).encode()


def post_webhook(client: Any, provider: str, query: str, body: bytes, headers: dict[str, str]) -> Any:
    return client.http.post(f"/v1/webhooks/{provider}?{query}", headers=headers, body=body)


def get(client: Any, generation_id: str, headers: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = client.http.get(f"/v1/generations/{generation_id}", headers=headers).json_body
    return body


def remaining(client: Any, headers: dict[str, str]) -> dict[str, int]:
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    return {w["window"]: w["remaining"] for w in quota["limits"]}


def submit_async(client: Any, lanes: SqsLanes, headers: dict[str, str], variation: int = 1) -> str:
    """POST async, then let the lane worker take the message (it submits to the provider)."""
    accepted = client.http.post(
        "/v1/generations",
        headers={**headers, "Prefer": "respond-async"},
        body=json.dumps({"style": "anime", "variation": variation}),
    )
    assert accepted.status_code == 202, accepted.body
    gen_id: str = accepted.json_body["id"]
    failed, batch = lanes.deliver(client, "free")
    assert bodies(batch) == [{"job": gen_id, "lane": "free"}]
    assert failed == set()
    return gen_id


def test_fal_job_goes_lane_then_queue_api_then_signed_webhook_to_succeeded(
    wire: Wire,
    client: Any,
    lanes: SqsLanes,
    vendors: respx.MockRouter,
    signer: FalSigner,
) -> None:
    # The identical request below waits its whole wait for a job that is at the provider: on a fake
    # clock that wait takes no real time.
    objects = wire(clock=FakeClock(time.time()), **FAL).ports.objects
    submit = vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    headers = auth("fal-user", "free")
    gen_id = submit_async(client, lanes, headers)
    assert submit.call_count == 1
    callback = submit.calls.last.request.url.params["fal_webhook"]
    token = parse_qs(urlsplit(callback).query)["token"][0]  # lets the webhook adopt a lost handle
    assert callback == f"{PUBLIC_URL}/v1/webhooks/fal?job={gen_id}&token={token}"
    assert json.loads(submit.calls.last.request.content)["sync_mode"] is False
    assert get(client, gen_id, headers)["status"] == "running"  # at the provider: no Lambda waits

    # A redelivered lane message does not submit it twice (the job is at the provider).
    lanes.sqs.send_message(
        QueueUrl=lanes.urls["free"], MessageBody=json.dumps({"job": gen_id, "lane": "free"})
    )
    assert lanes.deliver(client, "free")[0] == set()
    assert client.http.post(
        "/v1/generations", headers=headers, body=json.dumps({"style": "anime", "variation": 1})
    ).json_body["cached"]  # an identical request joins the job in flight (no new submission)
    assert submit.call_count == 1

    body = fal_webhook()
    response = post_webhook(client, "fal", f"job={gen_id}", body, signer.headers("req-1", body))
    assert response.status_code == 200, response.body
    assert response.json_body == {"status": "done"}
    done = get(client, gen_id, headers)
    assert done["status"] == "succeeded"
    assert done["provider"] == "fal"
    for url in done["images"].values():
        assert objects.exists(url[len(FILES_BASE) + 1 :])
    assert vendors.routes[1].call_count == 1  # the output was fetched once
    assert remaining(client, headers) == {"hour": 4, "day": 4}


def test_duplicate_webhooks_and_late_messages_change_nothing(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter, signer: FalSigner
) -> None:
    wire(**FAL)
    submit = vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    headers = auth("dup-user", "free")
    gen_id = submit_async(client, lanes, headers)
    body = fal_webhook()
    signed_at = int(time.time()) - 10
    first_headers = signer.headers("req-1", body, timestamp=signed_at)
    assert post_webhook(client, "fal", f"job={gen_id}", body, first_headers).json_body == {"status": "done"}
    completed_at = get(client, gen_id, headers)["completed_at"]

    replay = post_webhook(client, "fal", f"job={gen_id}", body, first_headers)
    assert (replay.status_code, replay.json_body) == (200, {"status": "duplicate"})
    # fal retries with a fresh signature: the job has ended, nothing happens again.
    retry = post_webhook(
        client, "fal", f"job={gen_id}", body, signer.headers("req-1", body, timestamp=signed_at + 5)
    )
    assert (retry.status_code, retry.json_body) == (200, {"status": "ignored"})
    # Even a (validly signed) failure report for the same job cannot undo it.
    error_body = fal_webhook(status="ERROR", error="boom")
    late = post_webhook(client, "fal", f"job={gen_id}", error_body, signer.headers("req-1", error_body))
    assert late.json_body == {"status": "ignored"}
    lanes.sqs.send_message(
        QueueUrl=lanes.urls["free"], MessageBody=json.dumps({"job": gen_id, "lane": "free"})
    )
    assert lanes.deliver(client, "free")[0] == set()

    final = get(client, gen_id, headers)
    assert (final["status"], final["completed_at"]) == ("succeeded", completed_at)
    assert submit.call_count == 1
    assert vendors.routes[1].call_count == 1
    assert remaining(client, headers) == {"hour": 4, "day": 4}


def test_forged_stale_and_tampered_webhooks_are_refused_and_leave_the_job_alone(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter, signer: FalSigner
) -> None:
    wire(**FAL)
    vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    headers = auth("forge-user", "free")
    gen_id = submit_async(client, lanes, headers)
    body = fal_webhook()
    query = f"job={gen_id}"

    forged = post_webhook(
        client, "fal", query, body, signer.headers("req-1", body, key=Ed25519PrivateKey.generate())
    )
    stale = post_webhook(
        client, "fal", query, body, signer.headers("req-1", body, timestamp=int(time.time()) - 400)
    )
    signed = signer.headers("req-1", body)
    tampered = post_webhook(client, "fal", query, body.replace(b"OK", b"ERROR"), signed)
    unsigned = post_webhook(client, "fal", query, body, {"Content-Type": "application/json"})
    other_id = post_webhook(client, "fal", query, body, {**signed, "X-Fal-Webhook-Request-Id": "req-2"})
    for response in (forged, stale, tampered, unsigned, other_id):
        assert response.status_code == 401, response.body
        assert response.json_body["error"]["code"] == "unauthorized"
    assert get(client, gen_id, headers)["status"] == "running"
    assert vendors.routes[1].call_count == 0  # the output was never fetched

    # A captured delivery replayed long after is stale; the genuine one still works.
    assert post_webhook(client, "fal", query, body, signed).json_body == {"status": "done"}
    assert get(client, gen_id, headers)["status"] == "succeeded"


def test_replicate_webhooks_are_standard_webhooks(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter
) -> None:
    wire(**REPLICATE_SETTINGS)
    submit = vendors.post(REPLICATE_SUBMIT).mock(
        return_value=httpx.Response(
            201,
            json={
                "id": "p1",
                "status": "starting",
                "urls": {
                    "get": f"{REPLICATE}/v1/predictions/p1",
                    "cancel": f"{REPLICATE}/v1/predictions/p1/cancel",
                },
            },
        )
    )
    headers = auth("rep-user", "free")
    gen_id = submit_async(client, lanes, headers)
    sent = json.loads(submit.calls.last.request.content)
    token = parse_qs(urlsplit(sent["webhook"]).query)["token"][0]
    assert sent["webhook"] == f"{PUBLIC_URL}/v1/webhooks/replicate?job={gen_id}&token={token}"
    assert sent["webhook_events_filter"] == ["completed"]
    assert "prefer" not in submit.calls.last.request.headers

    body = json.dumps(
        {"id": "p1", "status": "succeeded", "output": [REPLICATE_OUTPUT], "error": None}
    ).encode()
    wrong_secret = "whsec_" + base64.b64encode(b"another-secret-another-secret-00").decode()
    forged = post_webhook(
        client, "replicate", f"job={gen_id}", body, standard_headers(wrong_secret, body, "msg_1")
    )
    stale = post_webhook(
        client,
        "replicate",
        f"job={gen_id}",
        body,
        standard_headers(REPLICATE_SECRET, body, "msg_1", int(time.time()) - 301),
    )
    assert forged.status_code == stale.status_code == 401
    assert get(client, gen_id, headers)["status"] == "running"

    good = standard_headers(REPLICATE_SECRET, body, "msg_1")
    assert post_webhook(client, "replicate", f"job={gen_id}", body, good).json_body == {"status": "done"}
    assert post_webhook(client, "replicate", f"job={gen_id}", body, good).json_body == {"status": "duplicate"}
    done = get(client, gen_id, headers)
    assert (done["status"], done["provider"]) == ("succeeded", "replicate")


def test_runpod_callbacks_carry_a_per_job_secret(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    wire(**RUNPOD_SETTINGS)
    submit = vendors.post(f"{RUNPOD}/v2/ep123/run").mock(
        return_value=httpx.Response(200, json={"id": "rp-1", "status": "IN_QUEUE"})
    )
    headers = auth("rp-user", "free")
    gen_id = submit_async(client, lanes, headers)
    webhook = json.loads(submit.calls.last.request.content)["webhook"]
    params = parse_qs(urlsplit(webhook).query)
    assert params["job"] == [gen_id]
    token = params["token"][0]
    assert len(token) >= 32
    assert token not in json.dumps(
        store.keyspace.client.command("HGETALL", store.keyspace.generation(gen_id))
    )  # kept only as a hash

    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    body = json.dumps({"id": "rp-1", "status": "COMPLETED", "output": {"image": data_uri}}).encode()
    plain = {"Content-Type": "application/json"}
    assert post_webhook(client, "runpod", f"job={gen_id}&token=wrong", body, plain).status_code == 401
    assert post_webhook(client, "runpod", f"job={gen_id}", body, plain).status_code == 401
    assert get(client, gen_id, headers)["status"] == "running"
    ok = post_webhook(client, "runpod", f"job={gen_id}&token={token}", body, plain)
    assert ok.json_body == {"status": "done"}
    assert get(client, gen_id, headers)["status"] == "succeeded"


def reaper_event(client: Any) -> dict[str, Any]:
    event: dict[str, Any] = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return event


def test_a_webhook_that_never_comes_is_replaced_by_the_reapers_poll(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    wire(**FAL)
    vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    status = vendors.get(f"{FAL_QUEUE}/fal-ai/flux/requests/req-1/status").mock(
        side_effect=[
            httpx.Response(200, json={"status": "IN_PROGRESS"}),
            httpx.Response(200, json={"status": "COMPLETED"}),
        ]
    )
    vendors.get(f"{FAL_QUEUE}/fal-ai/flux/requests/req-1").mock(
        return_value=httpx.Response(200, json=fal_output())
    )
    headers = auth("poll-user", "free")
    gen_id = submit_async(client, lanes, headers)
    assert client.lambda_.invoke("reaper", reaper_event(client)).payload["counts"] == {}  # not due yet

    store.timers.schedule("poll", gen_id, 0)  # its expected time has passed, and no webhook came
    assert client.lambda_.invoke("reaper", reaper_event(client)).payload["counts"] == {"poll:pending": 1}
    assert get(client, gen_id, headers)["status"] == "running"
    store.timers.schedule("poll", gen_id, 0)
    assert client.lambda_.invoke("reaper", reaper_event(client)).payload["counts"] == {"poll:done": 1}
    assert get(client, gen_id, headers)["status"] == "succeeded"
    assert status.call_count == 2
    assert store.timers.due("poll", int(time.time() * 1000) + 10**9) == []


def test_a_job_that_never_finishes_is_canceled_failed_and_refunded_at_its_deadline(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter
) -> None:
    clock = FakeClock(time.time())
    wire(job_deadline_seconds=1, clock=clock, **FAL)
    vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    vendors.get(f"{FAL_QUEUE}/fal-ai/flux/requests/req-1/status").mock(
        return_value=httpx.Response(200, json={"status": "IN_PROGRESS"})
    )
    cancel = vendors.put(f"{FAL_QUEUE}/fal-ai/flux/requests/req-1/cancel").mock(
        return_value=httpx.Response(202, json={"status": "CANCELLATION_REQUESTED"})
    )
    headers = auth("late-user", "free")
    gen_id = submit_async(client, lanes, headers)
    assert remaining(client, headers) == {"hour": 4, "day": 4}
    clock.advance(1.1)  # past the job's deadline
    report = client.lambda_.invoke("reaper", reaper_event(client)).payload
    assert report["counts"] == {"deadline:expired": 1}
    body = get(client, gen_id, headers)
    assert body["status"] == "failed"
    assert cancel.call_count == 1
    assert remaining(client, headers) == {"hour": 5, "day": 5}


def test_a_provider_job_that_fails_is_submitted_again_then_succeeds(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter, signer: FalSigner
) -> None:
    wire(**FAL)
    submit = vendors.post(FAL_SUBMIT).mock(side_effect=[fal_submission("req-1"), fal_submission("req-2")])
    headers = auth("retry-user", "free")
    gen_id = submit_async(client, lanes, headers)
    failure = fal_webhook("req-1", status="ERROR", error="CUDA out of memory")
    reply = post_webhook(client, "fal", f"job={gen_id}", failure, signer.headers("req-1", failure))
    assert reply.json_body == {"status": "failed"}
    assert get(client, gen_id, headers)["status"] == "queued"  # back on its lane for a new attempt
    assert lanes.deliver(client, "free")[0] == set()
    assert submit.call_count == 2
    body = fal_webhook("req-2")
    assert post_webhook(client, "fal", f"job={gen_id}", body, signer.headers("req-2", body)).json_body == {
        "status": "done"
    }
    assert get(client, gen_id, headers)["status"] == "succeeded"


def test_the_lambda_sync_path_polls_the_provider_queue_within_the_wait(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter
) -> None:
    wire(**FAL)
    submit = vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    vendors.get(f"{FAL_QUEUE}/fal-ai/flux/requests/req-1/status").mock(
        side_effect=[
            httpx.Response(200, json={"status": "IN_QUEUE"}),
            httpx.Response(200, json={"status": "COMPLETED"}),
        ]
    )
    vendors.get(f"{FAL_QUEUE}/fal-ai/flux/requests/req-1").mock(
        return_value=httpx.Response(200, json=fal_output())
    )
    response = client.http.post(
        "/v1/generations",
        headers=auth("sync-user", "free"),
        body=json.dumps({"style": "anime", "variation": 9}),
    )
    assert response.status_code == 200, response.body
    assert response.json_body["status"] == "succeeded"
    assert response.json_body["provider"] == "fal"
    assert submit.call_count == 1
    assert "fal_webhook" in submit.calls.last.request.url.params  # the webhook is there in case the wait ends
    assert lanes.depth("free") == 0


def test_a_sync_call_past_its_wait_answers_202_and_the_webhook_ends_the_same_job(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter, signer: FalSigner
) -> None:
    wire(**FAL)
    submit = vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    vendors.get(f"{FAL_QUEUE}/fal-ai/flux/requests/req-1/status").mock(
        return_value=httpx.Response(200, json={"status": "IN_PROGRESS"})
    )
    headers = {**auth("patient-user", "free"), "Prefer": "wait=1"}
    started = time.monotonic()
    response = client.http.post(
        "/v1/generations", headers=headers, body=json.dumps({"style": "anime", "variation": 10})
    )
    assert time.monotonic() - started < 3
    assert response.status_code == 202, response.body
    assert response.json_body["status"] == "running"
    gen_id = response.json_body["id"]
    body = fal_webhook()
    assert post_webhook(client, "fal", f"job={gen_id}", body, signer.headers("req-1", body)).json_body == {
        "status": "done"
    }
    assert get(client, gen_id, headers)["status"] == "succeeded"
    assert submit.call_count == 1  # the same provider job: never a second call
    assert lanes.depth("free") == 0


def test_an_unknown_provider_is_404_and_an_unsigned_body_401(wire: Wire, client: Any) -> None:
    wire(**FAL)
    assert client.http.post("/v1/webhooks/acme?job=gen_x", headers={}, body=b"{}").status_code == 404
    # Whatever the content type, an unsigned body is refused before it is even parsed.
    response = client.http.post(
        "/v1/webhooks/fal?job=gen_x", headers={"Content-Type": "text/plain"}, body=b"{"
    )
    assert response.status_code == 401


def test_a_webhook_whose_output_cannot_be_fetched_yet_is_refused_with_503_and_accepted_on_redelivery(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter, signer: FalSigner
) -> None:
    wire(**FAL)
    vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    headers = auth("flaky-output", "free")
    gen_id = submit_async(client, lanes, headers)
    output = vendors.routes[1]
    output.mock(return_value=httpx.Response(503, text="upstream busy"))
    body = fal_webhook()
    delivery = signer.headers("req-1", body)

    refused = post_webhook(client, "fal", f"job={gen_id}", body, delivery)
    assert refused.status_code == 503, refused.body
    assert refused.json_body["error"]["code"] == "provider_unavailable"
    assert refused.headers["Retry-After"] == "5"
    assert get(client, gen_id, headers)["status"] == "running"  # nothing lost, nothing ended

    # fal redelivers the same (still signed) message once the output is reachable.
    output.mock(return_value=httpx.Response(200, headers={"Content-Type": "image/png"}, content=PNG))
    accepted = post_webhook(client, "fal", f"job={gen_id}", body, delivery)
    assert (accepted.status_code, accepted.json_body) == (200, {"status": "done"})
    assert get(client, gen_id, headers)["status"] == "succeeded"
    assert remaining(client, headers) == {"hour": 4, "day": 4}


def test_a_webhook_for_a_job_another_container_is_completing_is_refused_with_503_then_processed(
    wire: Wire,
    client: Any,
    lanes: SqsLanes,
    vendors: respx.MockRouter,
    signer: FalSigner,
    *,
    store: RedisStateStore,
) -> None:
    # Found by bench/stack_spike.py: an API process killed while it completed a job (it held the
    # completion claim) made fal's redelivery answer 200 "busy", so fal stopped retrying and the
    # job waited for the claim to lapse and the poller.
    wire(**FAL)
    vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    headers = auth("claimed-elsewhere", "free")
    gen_id = submit_async(client, lanes, headers)
    store.kv.set_once(f"completing:{gen_id}", "req-1", 60)  # another container is completing it
    body = fal_webhook()
    delivery = signer.headers("req-1", body)

    busy = post_webhook(client, "fal", f"job={gen_id}", body, delivery)
    assert busy.status_code == 503, busy.body
    assert busy.headers["Retry-After"] == "5"
    assert get(client, gen_id, headers)["status"] == "running"

    store.kv.delete(f"completing:{gen_id}")  # that container died: its claim lapsed
    again = post_webhook(client, "fal", f"job={gen_id}", body, delivery)
    assert (again.status_code, again.json_body) == (200, {"status": "done"})
    assert get(client, gen_id, headers)["status"] == "succeeded"
    assert remaining(client, headers) == {"hour": 4, "day": 4}


def test_a_delivery_whose_container_died_mid_way_is_processed_when_redelivered(
    wire: Wire,
    client: Any,
    lanes: SqsLanes,
    vendors: respx.MockRouter,
    signer: FalSigner,
    *,
    store: RedisStateStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found by bench/stack_spike.py: the replay key was set for a day before the delivery was acted
    # on, so a redelivery after a crash mid-way was a "duplicate" and the job waited for the poller.
    from chalicelib.services.generation import collect, webhooks

    wire(**FAL)
    vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    headers = auth("died-mid-way", "free")
    gen_id = submit_async(client, lanes, headers)
    body = fal_webhook()
    delivery = signer.headers("req-1", body)
    replay_key = store.keyspace.key(
        "webhook:fal:" + hashlib.sha256(delivery["X-Fal-Webhook-Signature"].encode()).hexdigest()[:40]
    )

    def killed(*_: Any, **__: Any) -> None:
        raise SystemExit("the container was killed")

    with monkeypatch.context() as patch:
        patch.setattr(collect.CollectResult, "collect", killed)
        with pytest.raises(SystemExit):
            post_webhook(client, "fal", f"job={gen_id}", body, delivery)
    ttl = int(store.keyspace.client.command("TTL", replay_key))
    assert 0 < ttl <= webhooks.IN_FLIGHT_TTL_S  # not a day: the delivery was never acted on
    assert post_webhook(client, "fal", f"job={gen_id}", body, delivery).json_body == {"status": "duplicate"}

    store.keyspace.client.command("DEL", replay_key)  # the in-flight TTL lapsed
    again = post_webhook(client, "fal", f"job={gen_id}", body, delivery)
    assert (again.status_code, again.json_body) == (200, {"status": "done"})
    assert get(client, gen_id, headers)["status"] == "succeeded"
    assert 0 < int(store.keyspace.client.command("TTL", replay_key)) > webhooks.IN_FLIGHT_TTL_S


def test_an_aborted_replicate_prediction_ends_the_attempt_at_once_not_at_the_reaper(
    wire: Wire, client: Any, lanes: SqsLanes, vendors: respx.MockRouter
) -> None:
    """``aborted`` (Replicate's "past its deadline before it could start") is final: the webhook
    ends that attempt and the job goes back on its lane for a new submission."""
    wire(**REPLICATE_SETTINGS)
    started = {
        "id": "p1",
        "status": "starting",
        "urls": {"get": f"{REPLICATE}/v1/predictions/p1", "cancel": f"{REPLICATE}/v1/predictions/p1/cancel"},
    }
    submit = vendors.post(REPLICATE_SUBMIT).mock(
        side_effect=[httpx.Response(201, json=started), httpx.Response(201, json={**started, "id": "p2"})]
    )
    headers = auth("aborted-user", "free")
    gen_id = submit_async(client, lanes, headers)
    body = json.dumps({"id": "p1", "status": "aborted", "output": None, "error": None}).encode()
    reply = post_webhook(
        client, "replicate", f"job={gen_id}", body, standard_headers(REPLICATE_SECRET, body, "msg_a")
    )
    assert reply.json_body == {"status": "failed"}
    assert get(client, gen_id, headers)["status"] == "queued"  # back on its lane, not "running"
    assert lanes.deliver(client, "free")[0] == set()
    assert submit.call_count == 2


class WorkerKilled(BaseException):
    """The lane worker dies (SIGKILL, out of memory, a timeout): nothing after this line runs."""


def killed_before_the_handle_is_written(
    client: Any,
    lanes: SqsLanes,
    store: RedisStateStore,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
) -> str:
    """POST async; its lane worker submits the job to fal and dies before it writes fal's handle.
    Its message, never deleted, comes back."""
    accepted = client.http.post(
        "/v1/generations",
        headers={**headers, "Prefer": "respond-async"},
        body=json.dumps({"style": "anime", "variation": 3}),
    )
    gen_id: str = accepted.json_body["id"]

    def killed(*_: Any, **__: Any) -> bool:
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(store.generations, "hand_to_provider", killed)
        with pytest.raises(WorkerKilled):
            lanes.deliver(client, "free")
    stored = store.generations.get(gen_id)
    assert stored is not None and stored.status == "running"
    assert stored.provider_job is None and stored.submit_intent is not None  # the intent came first
    return gen_id


def redeliver(client: Any, lanes: SqsLanes, gen_id: str) -> set[str]:
    """The job's message delivered again (the dead worker's, or the one a redelivery left)."""
    failed, batch = lanes.deliver(client, "free")
    assert bodies(batch) == [{"job": gen_id, "lane": "free"}]
    return failed


def test_a_webhook_adopts_a_job_whose_worker_died_before_writing_the_handle(
    wire: Wire,
    client: Any,
    lanes: SqsLanes,
    vendors: respx.MockRouter,
    signer: FalSigner,
    *,
    store: RedisStateStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # docs/operations.md, "Known limits" (issue 23): the webhook of such a job was ignored and its
    # redelivered message submitted it again, one duplicate provider call.
    clock = FakeClock(time.time())
    wire(clock=clock, **FAL)
    submit = vendors.post(FAL_SUBMIT).mock(return_value=fal_submission("req-1"))
    headers = auth("killed-worker", "free")
    gen_id = killed_before_the_handle_is_written(client, lanes, store, monkeypatch, headers)
    callback = parse_qs(urlsplit(submit.calls.last.request.url.params["fal_webhook"]).query)

    # A signed delivery without the job's secret (another job's, re-posted) cannot adopt it.
    body = fal_webhook("req-1")
    stranger = post_webhook(
        client, "fal", f"job={gen_id}", body, signer.headers("req-1", body, timestamp=int(time.time()) - 1)
    )
    assert stranger.json_body == {"status": "ignored"}
    assert get(client, gen_id, headers)["status"] == "running"

    query = f"job={gen_id}&token={callback['token'][0]}"
    # fal could not inline the output (payload_error): an adopted job has no response URL to read
    # it from. Not a failure of the job: 503, and fal delivers again.
    bare = fal_webhook("req-1", payload=None, payload_error="the payload was too large")
    refused = post_webhook(client, "fal", query, bare, signer.headers("req-1", bare))
    assert refused.status_code == 503, refused.body
    assert get(client, gen_id, headers)["status"] == "running"

    adopted = post_webhook(client, "fal", query, body, signer.headers("req-1", body))
    assert (adopted.status_code, adopted.json_body) == (200, {"status": "done"})
    done = get(client, gen_id, headers)
    assert (done["status"], done["provider"]) == ("succeeded", "fal")

    assert redeliver(client, lanes, gen_id) == set()  # the message comes back: the job has ended
    assert submit.call_count == 1  # zero duplicate provider calls
    assert remaining(client, headers) == {"hour": 4, "day": 4}  # charged once


def test_a_redelivery_waits_the_providers_usual_time_for_the_webhook_before_submitting_again(
    wire: Wire,
    client: Any,
    lanes: SqsLanes,
    vendors: respx.MockRouter,
    signer: FalSigner,
    *,
    store: RedisStateStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.services.generation.submit import EXPECTED_S

    clock = FakeClock(time.time())
    wire(clock=clock, job_lease_seconds=10, provider_deadline_seconds=8, **FAL)
    submit = vendors.post(FAL_SUBMIT).mock(side_effect=[fal_submission("req-1"), fal_submission("req-2")])
    headers = auth("killed-and-silent", "free")
    gen_id = killed_before_the_handle_is_written(client, lanes, store, monkeypatch, headers)

    clock.advance(11)  # the dead worker's claim has lapsed: its message comes back
    failed = redeliver(client, lanes, gen_id)
    assert len(failed) == 1  # left to come back: fal may yet deliver the webhook
    assert submit.call_count == 1
    assert get(client, gen_id, headers)["status"] == "running"

    clock.advance(EXPECTED_S["fast"])  # no webhook within the provider's usual time: submit again
    assert redeliver(client, lanes, gen_id) == set()
    assert submit.call_count == 2
    stored = store.generations.get(gen_id)
    assert stored is not None and stored.provider_job is not None and stored.provider_job.id == "req-2"

    # The first submit's webhook, late after all, is about a job nobody waits for any more.
    body = fal_webhook("req-1")
    late = post_webhook(client, "fal", f"job={gen_id}", body, signer.headers("req-1", body))
    assert late.json_body == {"status": "ignored"}
    body = fal_webhook("req-2")
    second = parse_qs(urlsplit(submit.calls.last.request.url.params["fal_webhook"]).query)["token"][0]
    ended = post_webhook(client, "fal", f"job={gen_id}&token={second}", body, signer.headers("req-2", body))
    assert ended.json_body == {"status": "done"}
    assert remaining(client, headers) == {"hour": 4, "day": 4}
