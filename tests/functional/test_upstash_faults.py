"""When Upstash is down, slow, refuses the token or fails: generations fail closed, fast; the gallery
and avatar redirects keep working; a client's retry once it is back is charged once."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.bootstrap import build_container, set_container
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider
from tests.upstash_harness import UpstashHarness, upstash_harness_fixture  # noqa: F401 - a fixture

PROMISED_SECONDS = 3.0
_ids = itertools.count()

FAULTS: dict[str, Callable[[UpstashHarness], None]] = {
    "unreachable": lambda harness: harness.stop(),
    "slow": lambda harness: harness.delay(10),
    "unauthorized": lambda harness: harness.fail_with(401),
    "server_error": lambda harness: harness.fail_with(500),
    "bad_gateway": lambda harness: harness.fail_with(502, "<html>502 Bad Gateway</html>", "text/html"),
}


def recover(harness: UpstashHarness) -> None:
    harness.heal()
    harness.start()


@dataclass
class FaultyApp:
    client: Any
    harness: UpstashHarness

    def generate(self, user: str, key: str) -> tuple[Any, float]:
        """A request of the user's own (no other user's request is identical to it)."""
        headers = {**auth(user, "free"), "Idempotency-Key": key, "Prefer": "respond-async"}
        body = {"style": "anime", "prompt": f"portrait of {user}"}
        started = time.monotonic()
        response = self.client.http.post("/v1/generations", headers=headers, body=json.dumps(body))
        return response, time.monotonic() - started

    def used(self, user: str) -> list[int]:
        quota = self.client.http.get("/v1/me/quota", headers=auth(user, "free")).json_body
        return [w["limit"] - w["remaining"] for w in quota["limits"]]


@pytest.fixture
def faulty_app(tmp_path: Path, upstash_harness: UpstashHarness, objects: Any) -> Iterator[FaultyApp]:
    from chalice.test import Client

    from app import app

    # The production adapter as build_store makes it: production timeouts and budget.
    upstash = UpstashClient(upstash_harness.url, upstash_harness.token)
    container = build_container(
        make_settings(tmp_path),
        store=RedisStateStore(upstash, prefix=f"fault{next(_ids)}:"),
        objects=objects,
        provider=RecordingProvider(),
        start_workers=False,
    )
    set_container(container)
    with Client(app, stage_name="local") as client:
        yield FaultyApp(client, upstash_harness)
    set_container(None)
    upstash.close()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_generation_fails_closed_within_the_promise_and_the_retry_is_charged_once(
    faulty_app: FaultyApp, fault: str
) -> None:
    api = faulty_app
    user = f"fault-{fault}"
    assert api.generate("warm-up", "w")[0].status_code == 202  # a pooled connection, scripts loaded

    FAULTS[fault](api.harness)
    refused, elapsed = api.generate(user, "retry-me")
    assert refused.status_code == 503
    assert refused.json_body["error"]["code"] == "store_unavailable"
    assert int(refused.headers["Retry-After"]) > 0
    assert elapsed < PROMISED_SECONDS, f"{fault}: {elapsed:.2f}s"
    assert api.harness.token not in json.dumps(refused.json_body)

    assert api.client.http.get("/v1/gallery?limit=3").status_code == 200
    started = time.monotonic()
    avatar = api.client.http.get("/v1/avatars/someone?size=256")
    assert avatar.status_code == 302
    assert time.monotonic() - started < PROMISED_SECONDS

    recover(api.harness)
    retried, _ = api.generate(user, "retry-me")
    assert retried.status_code == 202, retried.json_body
    again, _ = api.generate(user, "retry-me")
    assert again.json_body["id"] == retried.json_body["id"]
    assert api.used(user) == [1, 1]


def test_a_lost_reply_is_replayed_on_retry_not_charged_twice(faulty_app: FaultyApp) -> None:
    """The admit script ran and charged, but the reply never arrived (a timeout after the fact)."""
    api = faulty_app
    assert api.generate("warm-up", "w")[0].status_code == 202
    api.harness.delay(10, after=True)
    refused, elapsed = api.generate("lost-reply", "k-1")
    assert refused.status_code == 503
    assert elapsed < PROMISED_SECONDS
    api.harness.heal()

    retried, _ = api.generate("lost-reply", "k-1")
    assert retried.status_code == 202
    assert api.used("lost-reply") == [1, 1]
    assert api.generate("lost-reply", "k-1")[0].json_body["id"] == retried.json_body["id"]


def test_health_reports_the_store_down(faulty_app: FaultyApp) -> None:
    api = faulty_app
    assert api.client.http.get("/v1/health").status_code == 200
    api.harness.stop()
    assert api.client.http.get("/v1/health").status_code == 503
    api.harness.start()
    assert api.client.http.get("/v1/health").status_code == 200
