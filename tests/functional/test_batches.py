"""Enterprise batches: API keys only, charged per item, on the batch lane, with signed callbacks.

Lanes are SQS queues on moto (and, once, the embedded in-process queue); client callbacks go to
fake hosts mocked with respx, behind a resolver that says which of them are public.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from chalice.test import Client

from app import app
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from chalicelib.domain.webhook_signatures import verify_standard_webhook
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider, settle
from tests.lanes_harness import SqsLanes, bodies, sqs_lanes

HOOK = "https://hooks.acme.test/avatars"
PRIVATE_HOOK = "https://internal.acme.test/avatars"
ADDRESSES = {"hooks.acme.test": ["93.184.216.34"], "internal.acme.test": ["10.0.0.7"]}

Wire = Callable[..., Container]


def resolver(host: str) -> list[str]:
    if host not in ADDRESSES:
        raise OSError("no such host")
    return ADDRESSES[host]


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> Iterator[SqsLanes]:
    with sqs_lanes(monkeypatch, max_receive_count=5) as queues:
        yield queues


@pytest.fixture
def hooks() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def wire(
    tmp_path: Path,
    store: RedisStateStore,
    objects: LocalObjectStore,
    provider: RecordingProvider,
    lanes: SqsLanes,
) -> Iterator[Wire]:
    def build(*, sqs: bool = True, **overrides: Any) -> Container:
        settings = make_settings(tmp_path, **(lanes.settings() if sqs else {}), **overrides)
        container = build_container(
            settings, store=store, objects=objects, provider=provider, resolver=resolver
        )
        set_container(container)
        return container

    yield build
    set_container(None)


@pytest.fixture
def container(wire: Wire) -> Container:
    return wire()


@pytest.fixture
def client(container: Container) -> Iterator[Any]:
    with Client(app, stage_name="local") as test_client:
        yield test_client


def issue(container: Container, limits: dict[str, int] | None = None) -> tuple[dict[str, str], str]:
    """A new enterprise key: its request headers and its webhook secret."""
    issued = container.access.api_keys.issue("acme", "enterprise", limits)
    return {"X-API-Key": issued.key, "Content-Type": "application/json"}, issued.webhook_secret


def post_batch(client: Any, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.http.post("/v1/batches", headers=headers, body=json.dumps(body))


def batch_status(client: Any, batch_id: str, headers: dict[str, str]) -> Any:
    return client.http.get(f"/v1/batches/{batch_id}", headers=headers)


def reap(client: Any) -> dict[str, int]:
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    counts: dict[str, int] = client.lambda_.invoke("reaper", event).payload["counts"]
    return counts


def test_a_batch_runs_on_the_batch_lane_and_calls_back_each_final_generation_signed(
    client: Any, container: Container, lanes: SqsLanes, hooks: respx.MockRouter, provider: RecordingProvider
) -> None:
    hook = hooks.post(HOOK).mock(return_value=httpx.Response(204))
    headers, secret = issue(container)
    items = [
        {"style": "anime", "variation": 1},
        {"style": "oil", "variation": 2},
        {"style": "anime", "variation": 1},
    ]
    accepted = post_batch(client, {"items": items, "callback_url": HOOK}, headers)
    assert accepted.status_code == 202, accepted.body
    batch_id, ids = accepted.json_body["id"], accepted.json_body["generation_ids"]
    assert accepted.headers["Location"] == f"http://localhost/v1/batches/{batch_id}"
    assert len(ids) == 3 and len(set(ids)) == 3
    # Two new jobs on the batch lane; the third item is identical to the first and joins it.
    assert sorted(b["job"] for b in bodies(lanes.receive("batch"))) == sorted(ids[:2])
    assert lanes.depth("premium") == lanes.depth("free") == 0
    assert batch_status(client, batch_id, headers).json_body["counts"] == {
        "queued": 3,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
    }

    lanes.drain(client, "batch")  # the jobs, then the callback messages they leave behind
    status = batch_status(client, batch_id, headers).json_body
    assert status == {
        "id": batch_id,
        "counts": {"queued": 0, "running": 0, "succeeded": 3, "failed": 0},
        "generation_ids": ids,
    }
    assert provider.total_calls == 2
    assert reap(client) == {"callback:delivered": 1}  # the follower's callback, from its timer
    assert reap(client) == {}

    delivered = {}
    for call in hook.calls:
        msg_id = verify_standard_webhook(secret, call.request.headers, call.request.content)
        generation = json.loads(call.request.content)
        assert msg_id == f"msg_{generation['id']}"
        delivered[generation["id"]] = generation
    assert sorted(delivered) == sorted(ids)
    for gen_id, generation in delivered.items():
        assert generation == client.http.get(f"/v1/generations/{gen_id}", headers=headers).json_body
        assert generation["status"] == "succeeded" and generation["lane"] == "batch"


def test_batches_are_for_api_keys_only_and_read_by_their_owner_only(
    client: Any, container: Container, lanes: SqsLanes
) -> None:
    body = {"items": [{"style": "pixel"}]}
    user = post_batch(client, body, auth("website-user", "enterprise"))
    assert user.status_code == 403
    assert user.json_body["error"]["code"] == "forbidden"
    assert post_batch(client, body, {"Content-Type": "application/json"}).status_code == 403
    assert (
        post_batch(
            client, body, {"X-API-Key": "afk_live_nope", "Content-Type": "application/json"}
        ).status_code
        == 401
    )

    headers, _ = issue(container)
    batch_id = post_batch(client, body, headers).json_body["id"]
    assert batch_status(client, batch_id, headers).status_code == 200
    other, _ = issue(container)
    for stranger in (other, auth("website-user", "enterprise")):
        response = batch_status(client, batch_id, stranger)
        assert response.status_code == 404
        assert response.json_body["error"]["code"] == "not_found"
    assert batch_status(client, "bat_nope", headers).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [{"style": "anime", "variation": n} for n in range(101)]},
        {"items": [{"style": "anime"}], "callback_url": "http://hooks.acme.test/avatars"},
        {"items": [{"style": "no-such-style"}]},
        {"items": "anime"},
    ],
)
def test_a_malformed_batch_is_400_and_charges_nothing(
    client: Any, container: Container, lanes: SqsLanes, body: dict[str, Any]
) -> None:
    headers, _ = issue(container)
    response = post_batch(client, body, headers)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "invalid_request"
    assert lanes.depth("batch") == 0


def test_per_key_limits_are_charged_per_item_and_a_batch_that_does_not_fit_is_refused_whole(
    client: Any, container: Container, lanes: SqsLanes
) -> None:
    headers, _ = issue(container, {"hour": 3})

    def left() -> int:
        limits = client.http.get("/v1/me/quota", headers=headers).json_body["limits"]
        return int(limits[0]["remaining"])

    too_many = post_batch(client, {"items": [{"style": "flat", "variation": n} for n in range(4)]}, headers)
    assert too_many.status_code == 429
    assert too_many.json_body["error"]["code"] == "quota_exceeded"
    assert int(too_many.headers["Retry-After"]) >= 1
    assert left() == 3 and lanes.depth("batch") == 0

    fits = post_batch(client, {"items": [{"style": "flat", "variation": n} for n in range(3)]}, headers)
    assert fits.status_code == 202
    assert left() == 0
    assert post_batch(client, {"items": [{"style": "flat", "variation": 9}]}, headers).status_code == 429


def test_a_failed_callback_is_retried_with_backoff_until_it_is_delivered(
    client: Any, container: Container, lanes: SqsLanes, hooks: respx.MockRouter, store: RedisStateStore
) -> None:
    hook = hooks.post(HOOK).mock(side_effect=[httpx.Response(503), httpx.Response(200)])
    headers, secret = issue(container)
    (gen_id,) = post_batch(client, {"items": [{"style": "sketch"}], "callback_url": HOOK}, headers).json_body[
        "generation_ids"
    ]
    lanes.drain(client, "batch")
    assert hook.call_count == 1  # refused by the client's server: due again in 30 s
    (due,) = store.timers.due("callback", int((time.time() + 31) * 1000))
    assert due == gen_id
    assert reap(client) == {}  # not yet
    store.timers.schedule("callback", gen_id, 0)  # 30 s later
    assert reap(client) == {"callback:delivered": 1}
    assert hook.call_count == 2
    first, second = (call.request for call in hook.calls)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"msg_{gen_id}"
    verify_standard_webhook(secret, second.headers, second.content)
    assert store.timers.due("callback", int((time.time() + 10**6) * 1000)) == []


def test_a_callback_to_a_private_address_is_never_made(
    client: Any, container: Container, lanes: SqsLanes, hooks: respx.MockRouter, store: RedisStateStore
) -> None:
    private = hooks.post(PRIVATE_HOOK).mock(return_value=httpx.Response(200))
    headers, _ = issue(container)
    accepted = post_batch(client, {"items": [{"style": "watercolor"}], "callback_url": PRIVATE_HOOK}, headers)
    (gen_id,) = accepted.json_body["generation_ids"]
    lanes.drain(client, "batch")
    assert client.http.get(f"/v1/generations/{gen_id}", headers=headers).json_body["status"] == "succeeded"
    assert private.call_count == 0
    assert json.loads(store.kv.get(f"callback:{gen_id}") or "{}")["status"] == "gave_up"
    assert reap(client) == {}


def test_the_embedded_stack_runs_batches_and_callbacks_in_process(
    wire: Wire, hooks: respx.MockRouter, provider: RecordingProvider
) -> None:
    container = wire(sqs=False)
    hook = hooks.post(HOOK).mock(return_value=httpx.Response(200))
    headers, secret = issue(container)
    with Client(app, stage_name="local") as client:
        items = [{"style": "cyberpunk", "variation": n} for n in range(3)]
        accepted = post_batch(client, {"items": items, "callback_url": HOOK}, headers)
        assert accepted.status_code == 202
        settle(container)  # the batch lane has run the jobs, then delivered their callbacks
        assert hook.call_count >= 3, "callbacks did not arrive"
        counts = batch_status(client, accepted.json_body["id"], headers).json_body["counts"]
        assert counts["succeeded"] == 3
    for call in hook.calls:
        verify_standard_webhook(secret, call.request.headers, call.request.content)
    assert provider.total_calls == 3


def test_a_batch_whose_record_cannot_be_written_is_refused_and_its_items_refunded_at_once(
    client: Any,
    container: Container,
    lanes: SqsLanes,
    store: RedisStateStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.ports import StoreError

    headers, _ = issue(container, {"hour": 3})

    def down(*args: Any, **kwargs: Any) -> None:
        raise StoreError("connection reset")

    monkeypatch.setattr(store.kv, "set", down)
    refused = post_batch(client, {"items": [{"style": "flat", "variation": n} for n in range(2)]}, headers)
    assert refused.status_code == 503
    assert refused.json_body["error"]["code"] == "store_unavailable"
    monkeypatch.undo()
    # The admitted items were failed and refunded now, not held (charged, never queued) until the
    # reaper's deadline.
    limits = client.http.get("/v1/me/quota", headers=headers).json_body["limits"]
    assert limits[0]["remaining"] == 3
    assert lanes.depth("batch") == 0
