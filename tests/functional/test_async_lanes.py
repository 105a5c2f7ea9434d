"""Async lanes on SQS (moto): request → lane message → lane handler → succeeded, nothing twice, nothing lost.

The lane handlers are invoked through ``chalice.test.Client`` with events built from the messages
really received from the queues (see ``tests/lanes_harness.py``); the provider is the offline
renderer behind the call-counting double.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, get_container, set_container
from chalicelib.ports import BreakerPolicy, Clock, ProviderDown
from chalicelib.services.routing.policy import RoutingPolicy
from chalicelib.services.routing.router import ProviderRouter
from tests.conftest import FILES_BASE, auth, make_settings
from tests.fakes import FakeClock, RecordingProvider, wait_ended
from tests.lanes_harness import SqsLanes, bodies, sqs_lanes

Wire = Callable[..., Container]


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> Iterator[SqsLanes]:
    with sqs_lanes(monkeypatch, max_receive_count=3) as queues:
        yield queues


@pytest.fixture
def wire(
    tmp_path: Path,
    store: RedisStateStore,
    objects: LocalObjectStore,
    provider: RecordingProvider,
    lanes: SqsLanes,
) -> Iterator[Wire]:
    def build(*, provider_override: Any = None, clock: Clock | None = None, **overrides: Any) -> Container:
        settings = make_settings(tmp_path, **lanes.settings(), **{"lane_max_receives": 3, **overrides})
        container = build_container(
            settings, store=store, objects=objects, provider=provider_override or provider, clock=clock
        )
        set_container(container)
        return container

    yield build
    set_container(None)


@pytest.fixture
def client(wire: Wire) -> Iterator[Any]:
    wire()
    with Client(app, stage_name="local") as test_client:
        yield test_client


def post(client: Any, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.http.post("/v1/generations", headers=headers, body=json.dumps(body))


def get(client: Any, generation_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.http.get(f"/v1/generations/{generation_id}", headers=headers)
    assert response.status_code == 200, response.body
    body: dict[str, Any] = response.json_body
    return body


def remaining(client: Any, headers: dict[str, str]) -> dict[str, int]:
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    return {w["window"]: w["remaining"] for w in quota["limits"]}


def test_an_async_request_is_a_lane_message_that_a_worker_finishes(
    client: Any, lanes: SqsLanes, provider: RecordingProvider, objects: LocalObjectStore
) -> None:
    headers = {**auth("lane-user", "premium"), "Prefer": "respond-async"}
    accepted = post(client, {"style": "anime", "variation": 1}, headers)
    assert accepted.status_code == 202, accepted.body
    gen_id = accepted.json_body["id"]
    assert accepted.json_body["status"] == "queued"
    assert accepted.json_body["lane"] == "premium"
    messages = lanes.receive("premium")
    assert bodies(messages) == [{"job": gen_id, "lane": "premium"}]
    assert lanes.receive("free") == [] and lanes.receive("batch") == []

    failed, _ = lanes.deliver(client, "premium", messages)
    assert failed == set()
    assert lanes.depth("premium") == 0
    done = get(client, gen_id, headers)
    assert done["status"] == "succeeded"
    assert set(done["images"]) == {"128", "256", "512"}
    for url in done["images"].values():
        assert objects.exists(url[len(FILES_BASE) + 1 :])
    assert provider.total_calls == 1


def test_a_job_delivered_twice_calls_the_provider_once_and_is_charged_once(
    client: Any, lanes: SqsLanes, provider: RecordingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {**auth("twice-user", "free"), "Prefer": "respond-async"}
    gen_id = post(client, {"style": "pixel", "variation": 2}, headers).json_body["id"]
    (message,) = lanes.receive("free")
    # At-least-once delivery: two copies of the message reach the worker at the same time.
    twin = {**message, "MessageId": message["MessageId"] + "-copy"}
    # The copy that claims the job holds it at the provider until the other copy has been told
    # to come back later.
    provider.gate = threading.Event()
    container = get_container()
    real_handle = container.generation.lanes.handle

    def handle(*args: Any, **kwargs: Any) -> Any:
        outcome = real_handle(*args, **kwargs)
        if outcome == "retry":
            assert provider.gate is not None
            provider.gate.set()
        return outcome

    monkeypatch.setattr(container.generation.lanes, "handle", handle)
    failed, _ = lanes.deliver(client, "free", [message, twin])
    assert len(failed) == 1  # the copy that found the job held asks to come back later
    assert get(client, gen_id, headers)["status"] == "succeeded"
    retried = message if message["MessageId"] in failed else twin
    again, _ = lanes.deliver(client, "free", [retried])
    assert again == set()  # the job has ended: nothing to do twice
    assert provider.total_calls == 1
    assert remaining(client, headers) == {"hour": 4, "day": 4}


def test_a_provider_failing_forever_fails_the_job_at_the_nth_receive_before_the_dlq(
    client: Any, lanes: SqsLanes, provider: RecordingProvider
) -> None:
    headers = {**auth("doomed-user", "free"), "Prefer": "respond-async"}
    gen_id = post(client, {"style": "oil", "variation": 3}, headers).json_body["id"]
    assert remaining(client, headers) == {"hour": 4, "day": 4}
    provider.error = ProviderDown("down for good")
    for receive in (1, 2):
        failed, batch = lanes.deliver(client, "free")
        assert batch[0]["Attributes"]["ApproximateReceiveCount"] == str(receive)
        assert failed == {batch[0]["MessageId"]}  # released, to be retried
        assert get(client, gen_id, headers)["status"] == "queued"
    failed, batch = lanes.deliver(client, "free")
    assert batch[0]["Attributes"]["ApproximateReceiveCount"] == "3"
    assert failed == set()  # the third receive (N = 3) fails the job instead of raising
    body = get(client, gen_id, headers)
    assert body["status"] == "failed"
    assert body["error"]["code"] == "provider_unavailable"
    assert provider.total_calls == 3
    assert lanes.depth("free") == 0 and lanes.depth("free", dlq=True) == 0
    assert remaining(client, headers) == {"hour": 5, "day": 5}  # refunded


def test_a_worker_that_dies_every_time_leaves_the_message_to_the_dlq_and_the_reaper_refunds(
    wire: Wire, lanes: SqsLanes, provider: RecordingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(time.time())
    container = wire(job_deadline_seconds=1, clock=clock)

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the worker dies before it can decide anything")

    monkeypatch.setattr(container.generation.lanes, "handle", crash)
    headers = {**auth("dlq-user", "free"), "Prefer": "respond-async"}
    with Client(app, stage_name="local") as client:
        gen_id = post(client, {"style": "flat", "variation": 4}, headers).json_body["id"]
        for _ in range(3):
            failed, batch = lanes.deliver(client, "free")
            assert failed == {batch[0]["MessageId"]}
        assert lanes.receive("free") == []  # the fourth receive moved it to the DLQ
        assert bodies(lanes.receive("free", dlq=True)) == [{"job": gen_id, "lane": "free"}]
        assert get(client, gen_id, headers)["status"] == "queued"
        assert remaining(client, headers) == {"hour": 4, "day": 4}

        clock.advance(1.1)  # past the job's deadline
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        report = client.lambda_.invoke("reaper", event).payload
        assert report["counts"] == {"deadline:expired": 1}
        body = get(client, gen_id, headers)
        assert body["status"] == "failed"
        assert remaining(client, headers) == {"hour": 5, "day": 5}
    assert provider.total_calls == 0


def test_only_a_fast_request_on_a_quiet_lane_with_a_healthy_provider_is_answered_in_the_wait(
    wire: Wire, lanes: SqsLanes, store: RedisStateStore
) -> None:
    wire(sync_max_lane_depth=0)
    with Client(app, stage_name="local") as client:
        fast = post(client, {"style": "anime", "variation": 5}, auth("quick", "free"))
        assert fast.status_code == 200, fast.body  # fast, quiet, healthy: in the wait
        assert lanes.depth("free") == 0

        standard = post(client, {"style": "oil", "quality": "standard"}, auth("slow", "premium"))
        assert standard.status_code == 202  # not a quick quality: queued at once
        assert standard.json_body["status"] == "queued"

        # The premium lane now holds a job (deeper than 0): even a fast request is queued.
        backed_up = post(client, {"style": "anime", "variation": 6}, auth("quick", "premium"))
        assert backed_up.status_code == 202
        queued = [standard.json_body["id"], backed_up.json_body["id"]]
        assert sorted(b["job"] for b in bodies(lanes.receive("premium"))) == sorted(queued)

    class Fal(RecordingProvider):
        name = "fal"

    router = ProviderRouter(
        [Fal()], store.breakers, policy=RoutingPolicy(breaker=BreakerPolicy(failure_threshold=1))
    )
    store.breakers.record("fal", "failure", int(time.time() * 1000), BreakerPolicy(failure_threshold=1))
    wire(provider_override=router)
    with Client(app, stage_name="local") as client:
        unhealthy = post(client, {"style": "anime", "variation": 7}, auth("quick-2", "free"))
        assert unhealthy.status_code == 202  # its only provider's breaker is open: queued
        assert bodies(lanes.receive("free")) == [{"job": unhealthy.json_body["id"], "lane": "free"}]


def test_a_sync_call_that_outlives_its_wait_finishes_once_even_with_its_lane_message(
    client: Any, lanes: SqsLanes, provider: RecordingProvider
) -> None:
    provider.gate = threading.Event()  # the call runs until its lane message has been looked at
    headers = {**auth("impatient", "free"), "Prefer": "wait=0.2"}
    accepted = post(client, {"style": "popart", "variation": 8}, headers)
    assert accepted.status_code == 202
    assert accepted.json_body["status"] == "running"
    gen_id = accepted.json_body["id"]
    # In a Lambda the answered call may be frozen: the lane holds the job too, as a backstop.
    failed, batch = lanes.deliver(client, "free")
    assert bodies(batch) == [{"job": gen_id, "lane": "free"}]
    assert failed == {batch[0]["MessageId"]}  # the call's lease is live: come back later
    provider.gate.set()
    wait_ended(get_container(), gen_id)  # the request's own call ends it
    assert get(client, gen_id, headers)["status"] == "succeeded"
    failed, _ = lanes.deliver(client, "free")
    assert failed == set()
    assert provider.total_calls == 1
