"""A batch's end is never missed (issue 22): a batch whose items were all cache hits, and a batch
whose last open item joined a job outside it (another request's), still publish ``BatchFinished``,
push the WebSocket batch message to its watchers and deliver every item's callback. Through the
HTTP API, the embedded lanes and the real-time API, on the embedded store and on the Upstash
adapter."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from chalicelib.bootstrap import Container
from chalicelib.domain.events import BatchFinished
from chalicelib.domain.webhook_signatures import verify_standard_webhook
from chalicelib.ports import ConnectionGone
from tests.conftest import auth
from tests.fakes import RecordingProvider, settle
from tests.functional.store_adapters import ADAPTERS, wired_app

HOOK = "https://hooks.acme.test/avatars"
SOURCE_IP = "203.0.113.9"


def resolver(host: str) -> list[str]:
    if host != "hooks.acme.test":
        raise OSError("no such host")
    return ["93.184.216.34"]


class RecordingPush:
    """The push channel as a list of what was sent to whom (``PushChannel``)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, connection_id: str, message: str) -> None:
        if connection_id.startswith("gone"):
            raise ConnectionGone(connection_id)
        self.sent.append((connection_id, json.loads(message)))

    def close(self, connection_id: str) -> None:
        return None


@pytest.fixture(params=ADAPTERS)
def app(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_server: Any,
    objects: Any,
    provider: RecordingProvider,
) -> Iterator[tuple[Any, Container]]:
    with wired_app(
        request.param, tmp_path, redis_server, objects, provider, resolver=resolver, push=RecordingPush()
    ) as wired:
        yield wired


@pytest.fixture
def hook() -> Iterator[respx.Route]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()  # the Upstash REST harness
        yield mock.post(HOOK).mock(return_value=httpx.Response(204))


def finished_batches(container: Container) -> list[BatchFinished]:
    seen: list[BatchFinished] = []
    container.bus.subscribe(BatchFinished, seen.append)
    return seen


def issue(container: Container) -> tuple[str, str]:
    issued = container.access.api_keys.issue("acme", "enterprise", None)
    return issued.key, issued.webhook_secret


def post(client: Any, path: str, body: dict[str, Any], key: str, **headers: str) -> Any:
    return client.http.post(
        path, headers={"X-API-Key": key, "Content-Type": "application/json", **headers}, body=json.dumps(body)
    )


def reap(client: Any) -> dict[str, int]:
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    counts: dict[str, int] = client.lambda_.invoke("reaper", event).payload["counts"]
    return counts


def delivered(hook: respx.Route, secret: str) -> dict[str, dict[str, Any]]:
    found = {}
    for call in hook.calls:
        verify_standard_webhook(secret, call.request.headers, call.request.content)
        body = json.loads(call.request.content)
        found[body["id"]] = body
    return found


def pushed(container: Container) -> RecordingPush:
    assert isinstance(container.ports.push, RecordingPush)
    return container.ports.push


def batch_messages(push: RecordingPush, connection_id: str) -> list[dict[str, Any]]:
    return [
        message["batch"]
        for conn, message in push.sent
        if conn == connection_id and message["type"] == "batch"
    ]


def test_a_batch_of_cache_hits_ends_at_once_and_calls_back_every_item(
    app: tuple[Any, Container], hook: respx.Route
) -> None:
    client, container = app
    push = pushed(container)
    ended = finished_batches(container)
    key, secret = issue(container)
    items = [{"style": "anime", "prompt": f"fox {secrets.token_hex(3)}"}, {"style": "oil", "variation": 7}]
    warm = post(client, "/v1/batches", {"items": items}, key)
    assert warm.status_code == 202, warm.body
    settle(container)  # both made and cached
    assert [e.batch_id for e in ended] == [warm.json_body["id"]]

    hits = post(client, "/v1/batches", {"items": items, "callback_url": HOOK}, key)
    assert hits.status_code == 202, hits.body
    batch_id, ids = hits.json_body["id"], hits.json_body["generation_ids"]
    # Every item was a cache hit: no item is left to end, so the batch ends as it is recorded.
    assert [(e.batch_id, dict(e.counts)) for e in ended[1:]] == [
        (batch_id, {"queued": 0, "running": 0, "succeeded": 2, "failed": 0})
    ]
    assert ended[1].generation_ids == tuple(ids)

    # Each item's callback is delivered (a lane message now, the store's timer as the backstop).
    settle(container)
    reap(client)
    calls = delivered(hook, secret)
    assert sorted(calls) == sorted(ids)
    assert all(body["status"] == "succeeded" and body["cached"] is True for body in calls.values())
    assert reap(client) == {}  # each once

    # A client that watches it now is told at once that it ended.
    container.realtime.sessions.connect("conn-late", {"api_key": key}, SOURCE_IP)
    container.realtime.sessions.receive(
        "conn-late", json.dumps({"action": "watch_batch", "batch_id": batch_id})
    )
    assert batch_messages(push, "conn-late") == [
        {
            "id": batch_id,
            "counts": {"queued": 0, "running": 0, "succeeded": 2, "failed": 0},
            "generation_ids": ids,
        }
    ]


def test_a_batch_whose_last_item_joined_another_requests_job_ends_with_that_job(
    app: tuple[Any, Container], hook: respx.Route, provider: RecordingProvider
) -> None:
    client, container = app
    push = pushed(container)
    ended = finished_batches(container)
    key, secret = issue(container)
    item = {"style": "pixel", "prompt": f"owl {secrets.token_hex(3)}"}
    provider.gate = threading.Event()  # the outside job runs until the test lets it finish
    outside = post(client, "/v1/generations", item, key, Prefer="respond-async")
    assert outside.status_code == 202, outside.body

    accepted = post(client, "/v1/batches", {"items": [item], "callback_url": HOOK}, key)
    assert accepted.status_code == 202, accepted.body
    batch_id, ids = accepted.json_body["id"], accepted.json_body["generation_ids"]
    container.realtime.sessions.connect("conn-1", {"api_key": key}, SOURCE_IP)
    container.realtime.sessions.receive("conn-1", json.dumps({"action": "watch_batch", "batch_id": batch_id}))
    assert batch_messages(push, "conn-1") == []  # its item is open: it follows the outside job
    assert ended == []

    provider.gate.set()
    settle(container)
    assert provider.total_calls == 1  # one provider call for both requests
    assert [(e.batch_id, dict(e.counts)) for e in ended] == [
        (batch_id, {"queued": 0, "running": 0, "succeeded": 1, "failed": 0})
    ]
    # Its watcher gets the item's final state, then the batch's.
    items = [m["generation"] for conn, m in push.sent if conn == "conn-1" and m["type"] == "generation"]
    assert items[-1]["id"] == ids[0] and items[-1]["status"] == "succeeded"
    assert batch_messages(push, "conn-1") == [
        {
            "id": batch_id,
            "counts": {"queued": 0, "running": 0, "succeeded": 1, "failed": 0},
            "generation_ids": ids,
        }
    ]
    reap(client)  # the follower's callback, from its timer
    assert sorted(delivered(hook, secret)) == ids


def test_a_batch_whose_last_item_joined_an_erased_users_job_still_ends(
    app: tuple[Any, Container], hook: respx.Route, provider: RecordingProvider
) -> None:
    """The job it joined ends into nothing (its caller erased their data while it ran), with no
    ``GenerationFinished``: the item still gets the result, and its batch still ends."""
    client, container = app
    ended = finished_batches(container)
    key, secret = issue(container)
    user = f"leaver-{secrets.token_hex(3)}"
    item = {"style": "sketch", "prompt": f"cat {secrets.token_hex(3)}"}
    provider.gate = threading.Event()
    outside = client.http.post(
        "/v1/generations", headers={**auth(user), "Prefer": "respond-async"}, body=json.dumps(item)
    )
    assert outside.status_code == 202, outside.body
    accepted = post(client, "/v1/batches", {"items": [item], "callback_url": HOOK}, key)
    batch_id, ids = accepted.json_body["id"], accepted.json_body["generation_ids"]
    assert client.http.delete("/v1/me", headers=auth(user)).status_code == 204

    provider.gate.set()
    settle(container)
    assert [(e.batch_id, dict(e.counts)) for e in ended] == [
        (batch_id, {"queued": 0, "running": 0, "succeeded": 1, "failed": 0})
    ]
    reap(client)
    assert sorted(delivered(hook, secret)) == ids
