"""POST /v1/events: the picker's conversion funnel (docs/contract.md, "Product analytics")."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import build_container, set_container
from chalicelib.domain.funnel import FUNNEL_STEPS, FUNNEL_TTL_S, funnel_key
from tests.conftest import auth, make_settings
from tests.fakes import CountingRedis, FakeClock, RecordingProvider

ANON = {"Content-Type": "application/json"}


@pytest.fixture
def app_client(tmp_path: Path, redis_server: Any, objects: Any) -> Any:
    from chalice.test import Client

    from app import app

    counter = CountingRedis(RedisPyClient(redis_server))
    store = RedisStateStore(counter, prefix=f"ev-{tmp_path.name}:")
    settings = make_settings(tmp_path, request_rate_per_minute=5)
    # A clock of its own: the rate window (a minute) cannot turn in the middle of a test.
    clock = FakeClock(time.time())
    container = build_container(
        settings, store=store, objects=objects, provider=RecordingProvider(), clock=clock
    )
    set_container(container)
    with Client(app, stage_name="local") as client:
        yield client, counter, store
    set_container(None)


def post(client: Any, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.post("/v1/events", headers=headers or ANON, body=raw)


def counts(store: RedisStateStore) -> dict[str, int]:
    day = datetime.now(UTC).strftime("%Y%m%d")
    values = store.counters.values([funnel_key(day, step) for step in FUNNEL_STEPS])
    return {step: int(v) for step, v in zip(FUNNEL_STEPS, values, strict=True) if v}


def test_an_anonymous_batch_is_accepted_and_counted_per_step(app_client: Any) -> None:
    client, _, store = app_client
    events = [{"name": "gallery_viewed"}, {"name": "style_chosen"}, {"name": "gallery_viewed"}]
    response = post(client, {"events": events})
    assert response.status_code == 202, response.body
    assert response.json_body == {"accepted": 3}
    assert counts(store) == {"gallery_viewed": 2, "style_chosen": 1}


def test_a_signed_in_user_counts_too_and_every_step_is_known(app_client: Any) -> None:
    client, _, store = app_client
    response = post(client, {"events": [{"name": step} for step in FUNNEL_STEPS]}, auth("ev-user", "free"))
    assert response.status_code == 202
    assert counts(store) == dict.fromkeys(FUNNEL_STEPS, 1)


def test_one_store_call_per_request(app_client: Any) -> None:
    client, counter, _ = app_client
    counter.calls.clear()
    assert post(client, {"events": [{"name": "avatar_chosen"}] * 20}).status_code == 202
    assert counter.calls == ["script:events_add"]


def test_the_counters_expire_past_the_funnel_window(
    app_client: Any, redis_server: Any, tmp_path: Path
) -> None:
    client, _, _ = app_client
    assert post(client, {"events": [{"name": "upgrade_shown"}]}).status_code == 202
    day = datetime.now(UTC).strftime("%Y%m%d")
    ttl = redis_server.ttl(f"ev-{tmp_path.name}:" + funnel_key(day, "upgrade_shown"))
    assert FUNNEL_TTL_S - 60 <= ttl <= FUNNEL_TTL_S


@pytest.mark.parametrize(
    "body",
    [
        {"events": [{"name": "gallery_viewed"}, {"name": "signed_up"}]},  # an unknown name
        {"events": [{"name": "gallery_viewed"}] * 21},  # too many events
        {"events": []},
        {"events": [{"name": "gallery_viewed", "email": "someone@example.com"}]},  # no personal data
        {"events": [{"name": "gallery_viewed"}], "user_id": "u-1"},
        {"events": "gallery_viewed"},
        {"events": [{"name": 7}]},
        {},
    ],
    ids=["unknown", "21", "empty", "extra-field", "extra-top", "not-a-list", "not-a-string", "no-events"],
)
def test_a_bad_batch_is_400_and_nothing_is_counted(app_client: Any, body: Any) -> None:
    client, counter, store = app_client
    counter.calls.clear()
    response = post(client, body)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "invalid_request"
    assert counter.calls == []  # refused before the store
    assert counts(store) == {}


def test_an_unknown_event_name_is_400_naming_the_field(app_client: Any) -> None:
    client, _, _ = app_client
    response = post(client, {"events": [{"name": "gallery_viewed"}, {"name": "signed_up"}]})
    assert response.status_code == 400
    fields = [d["field"] for d in response.json_body["error"]["details"]]
    assert fields == ["events.1.name"]


def test_malformed_json_is_400(app_client: Any) -> None:
    client, _, _ = app_client
    response = post(client, "{not json")
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_request"


def test_the_general_request_rate_applies_and_a_refused_batch_counts_nothing(app_client: Any) -> None:
    client, _, store = app_client
    headers = auth("ev-rate", "free")
    # The limit (5 a minute here) is the one POST /v1/generations counts in: the same counter.
    assert client.http.post(
        "/v1/generations", headers={**headers, "Prefer": "respond-async"}, body=json.dumps({"style": "anime"})
    ).status_code in (200, 202)
    for _ in range(4):
        assert post(client, {"events": [{"name": "gallery_viewed"}]}, headers).status_code == 202
    refused = post(client, {"events": [{"name": "avatar_chosen"}]}, headers)
    assert refused.status_code == 429
    assert refused.json_body["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert counts(store) == {"gallery_viewed": 4}
