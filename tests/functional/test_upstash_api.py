"""POST /v1/generations under concurrency, with the production Upstash adapter on the REST harness.

``chalice.test.Client`` is not thread-safe as it comes: Chalice keeps the request being handled in
one attribute of the app (``app.current_request``), so concurrent threads read each other's request
(in a probe, 22 of 200 concurrent requests were handled with another request's body). In Lambda
every concurrent request has a container of its own; here the ``thread_local_requests`` fixture makes
that attribute per thread, so that threads share only what containers share in production: the
store (and, in this process, the provider and the in-process queue).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.scripts import script
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.bootstrap import Container, build_container, set_container
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider, open_after, settle
from tests.upstash_harness import UpstashHarness, upstash_harness_fixture  # noqa: F401 - a fixture

THREADS = 16
_ids = itertools.count()


@pytest.fixture
def thread_local_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Chalice's per-invocation attributes per thread, as separate Lambda containers would be."""
    from chalice.app import Chalice

    local = threading.local()

    def attribute(name: str) -> property:
        return property(
            lambda self: getattr(local, name, None), lambda self, value: setattr(local, name, value)
        )

    monkeypatch.setattr(Chalice, "current_request", attribute("current_request"), raising=False)
    monkeypatch.setattr(Chalice, "lambda_context", attribute("lambda_context"), raising=False)


@dataclass
class UpstashApp:
    client: Any
    container: Container
    harness: UpstashHarness
    provider: RecordingProvider

    def post(self, body: dict[str, Any], headers: dict[str, str]) -> Any:
        return self.client.http.post("/v1/generations", headers=headers, body=json.dumps(body))

    def post_as(self, tag: Any, body: dict[str, Any], headers: dict[str, str]) -> tuple[Any, Any]:
        return tag, self.post(body, headers)

    def concurrently(self, calls: list[Callable[[], Any]]) -> list[Any]:
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(lambda call: call(), calls))

    def wait_until_ended(self, owners: dict[str, str], timeout: float = 15.0) -> dict[str, Any]:
        """Wait for the lanes to finish, then GET /v1/generations/{id} (as each owner): every
        generation must have ended."""
        settle(self.container, timeout)
        latest = {
            gid: self.client.http.get(f"/v1/generations/{gid}", headers=auth(sub)).json_body
            for gid, sub in owners.items()
        }
        if all(g["status"] in ("succeeded", "failed") for g in latest.values()):
            return latest
        raise AssertionError(f"generations still open once the lanes were idle: {latest}")


@pytest.fixture
def make_app(
    tmp_path: Path, upstash_harness: UpstashHarness, objects: Any, thread_local_requests: None
) -> Iterator[Callable[..., UpstashApp]]:
    from chalice.test import Client

    from app import app

    with ExitStack() as stack:

        def make(provider: RecordingProvider | None = None, start_workers: bool = True) -> UpstashApp:
            upstash = UpstashClient(upstash_harness.url, upstash_harness.token)
            stack.callback(upstash.close)
            for name in ("admit", "claim", "finish", "history"):  # loaded: one REST call per script call
                upstash.command("SCRIPT", "LOAD", script(name).source)
            store = RedisStateStore(upstash, prefix=f"api{next(_ids)}:")
            provider = provider or RecordingProvider()
            container = build_container(
                make_settings(tmp_path),
                store=store,
                objects=objects,
                provider=provider,
                start_workers=start_workers,
            )
            set_container(container)
            client = stack.enter_context(Client(app, stage_name="local"))
            upstash_harness.reset_counts()
            return UpstashApp(client, container, upstash_harness, provider)

        yield make
    set_container(None)


def test_200_concurrent_requests_of_one_free_user_admit_exactly_five(
    make_app: Callable[..., UpstashApp],
) -> None:
    api = make_app(start_workers=False)  # the accepted jobs need not run for this
    headers = {**auth("burst", "free"), "Prefer": "respond-async"}
    responses = api.concurrently(
        [partial(api.post_as, v, {"style": "anime", "variation": v}, headers) for v in range(200)]
    )

    statuses = Counter(r.status_code for _, r in responses)
    assert statuses == {202: 5, 429: 195}
    accepted = [(v, r) for v, r in responses if r.status_code == 202]
    assert all(r.json_body["variation"] == v for v, r in accepted)  # each request handled as itself
    assert sorted(int(r.headers["X-RateLimit-Remaining"]) for _, r in accepted) == [0, 1, 2, 3, 4]
    refused = [r for _, r in responses if r.status_code == 429]
    assert {r.json_body["error"]["code"] for r in refused} <= {"quota_exceeded", "rate_limited"}
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)

    # One REST call per request: the admit script, by SHA. Beside them, at most one read of the
    # latency histograms, from the ETA estimates' own thread (services/generation/latency.py).
    background = api.harness.commands.count("MGET")
    assert background <= 1
    assert api.harness.counts == {"/": 200 + background}
    assert [c for c in api.harness.commands if c != "MGET"] == ["EVALSHA"] * 200
    quota = api.client.http.get("/v1/me/quota", headers=auth("burst", "free")).json_body
    assert [w["remaining"] for w in quota["limits"]] == [0, 0]


def test_50_concurrent_retries_with_one_idempotency_key_make_one_generation(
    make_app: Callable[..., UpstashApp],
) -> None:
    # The job runs until all 50 retries have been decided: they find it queued or running.
    gate = threading.Event()
    api = make_app(provider=RecordingProvider(gate=gate))
    open_after(api.container, 50, gate)
    headers = {**auth("idem-user", "free"), "Prefer": "respond-async", "Idempotency-Key": "order-42"}
    body = {"style": "watercolor", "prompt": "a lighthouse at dusk", "variation": 7}
    responses = api.concurrently([partial(api.post, body, headers) for _ in range(50)])

    assert {r.status_code for r in responses} <= {200, 202}
    ids = {r.json_body["id"] for r in responses}
    assert len(ids) == 1
    (gid,) = ids
    ended = api.wait_until_ended({gid: "idem-user"})
    assert ended[gid]["status"] == "succeeded"
    assert api.provider.total_calls == 1
    quota = api.client.http.get("/v1/me/quota", headers=auth("idem-user", "free")).json_body
    assert [w["remaining"] for w in quota["limits"]] == [4, 4]  # charged once


def test_50_concurrent_identical_requests_start_one_provider_call(
    make_app: Callable[..., UpstashApp],
) -> None:
    # The job runs until all 50 requests have been admitted: 49 of them join it in flight.
    gate = threading.Event()
    api = make_app(provider=RecordingProvider(gate=gate))
    open_after(api.container, 50, gate)
    body = {"style": "pixel", "prompt": "A   Robot  with a Red scarf", "variation": 3}
    users = [f"twin-{i}" for i in range(50)]
    responses = api.concurrently(
        [partial(api.post_as, u, body, {**auth(u, "free"), "Prefer": "respond-async"}) for u in users]
    )

    assert {r.status_code for _, r in responses} <= {200, 202}
    owners = {r.json_body["id"]: u for u, r in responses}
    assert len(owners) == 50  # one generation per caller...
    ended = api.wait_until_ended(owners)
    assert api.provider.total_calls == 1  # ...and one provider call for all of them
    assert {g["status"] for g in ended.values()} == {"succeeded"}
    assert len({json.dumps(g["images"], sort_keys=True) for g in ended.values()}) == 1
    assert sum(not g["cached"] for g in ended.values()) == 1
    used = 0
    for user in users:
        quota = api.client.http.get("/v1/me/quota", headers=auth(user, "free")).json_body
        used += 5 - quota["limits"][0]["remaining"]
    assert used == 1  # only the request that ran was charged
