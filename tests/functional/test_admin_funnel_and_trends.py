"""GET /v1/admin/stats: the conversion funnel per day with its rates, and the 30-day and 24-hour
trends (generations by tier, spend against the daily budget, cache hit ratio, p95 latency per
provider, refusals), read in the stats' one store call; their counters expire past their window."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.funnel import FUNNEL_STEPS
from chalicelib.domain.identity import Identity
from chalicelib.domain.trend_periods import DAY_TREND_TTL_S, HOUR_TREND_TTL_S, hour_id
from chalicelib.services.operations.product_events import RecordProductEvents
from tests.conftest import auth
from tests.fakes import CountingRedis, FakeClock, RecordingProvider
from tests.ops_support import admin_headers, operated_app


@pytest.fixture
def operated(tmp_path: Path, redis_server: Any, objects: Any, provider: RecordingProvider) -> Iterator[Any]:
    counter = CountingRedis(RedisPyClient(redis_server))
    store = RedisStateStore(counter, prefix=f"tr-{tmp_path.name}:")
    with operated_app(tmp_path, store, objects, provider, request_rate_per_minute=6) as (client, container):
        yield client, container, counter, store


def events(client: Any, *names: str) -> None:
    body = json.dumps({"events": [{"name": n} for n in names]})
    response = client.http.post("/v1/events", headers={"Content-Type": "application/json"}, body=body)
    assert response.status_code == 202, response.body


def stats(client: Any) -> dict[str, Any]:
    response = client.http.get("/v1/admin/stats", headers=admin_headers())
    assert response.status_code == 200, response.body
    body: dict[str, Any] = response.json_body
    return body


def generate(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return client.http.post("/v1/generations", headers=headers, body=json.dumps({"style": "pixel", **body}))


def test_the_funnel_per_day_with_its_conversion_rates(operated: Any) -> None:
    client, _, counter, _ = operated
    events(client, *["gallery_viewed"] * 4, "style_chosen", "custom_started", "custom_started")
    events(client, "quota_reached", "upgrade_shown", "upgrade_shown", "upgrade_clicked", "avatar_chosen")

    counter.calls.clear()
    body = stats(client)
    assert counter.calls == ["command:MGET", "script:audit_append"]  # still one read for everything
    funnel = body["funnel"]
    assert funnel["steps"] == list(FUNNEL_STEPS)
    assert len(funnel["days"]) == 30
    today = funnel["days"][-1]
    assert today["day"] == datetime.now(UTC).strftime("%Y-%m-%d")
    assert today["counts"] == {
        "gallery_viewed": 4,
        "style_chosen": 1,
        "custom_started": 2,
        "photo_started": 0,
        "quota_reached": 1,
        "upgrade_shown": 2,
        "upgrade_clicked": 1,
        "avatar_chosen": 1,
    }
    assert today["conversion"] == {
        "chose_avatar": 0.25,
        "started_custom": 0.5,
        "started_photo": 0.0,
        "reached_quota": 0.5,
        "clicked_upgrade": 0.5,
    }
    assert funnel["days"][0]["counts"] == dict.fromkeys(FUNNEL_STEPS, 0)
    assert funnel["days"][0]["conversion"]["chose_avatar"] is None  # no visitor that day: no rate
    assert funnel["totals"]["counts"] == today["counts"]


def test_the_funnel_keeps_each_day_apart(operated: Any) -> None:
    client, _, _, store = operated
    two_days_ago = FakeClock(time.time() - 2 * 86400)
    earlier = RecordProductEvents(store.analytics, rate_per_minute=100, clock=two_days_ago)
    earlier(
        Identity("anonymous", "203.0.113.9", "anonymous"),
        ["gallery_viewed", "gallery_viewed", "avatar_chosen"],
    )
    events(client, "gallery_viewed")
    days = stats(client)["funnel"]["days"]
    assert days[-3]["day"] == (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d")
    assert days[-3]["counts"]["gallery_viewed"] == 2 and days[-3]["conversion"]["chose_avatar"] == 0.5
    assert days[-1]["counts"]["gallery_viewed"] == 1 and days[-1]["counts"]["avatar_chosen"] == 0
    assert stats(client)["funnel"]["totals"]["counts"]["gallery_viewed"] == 3


def test_the_trends_show_tiers_spend_cache_latency_and_refusals(
    operated: Any, provider: RecordingProvider
) -> None:
    client, container, _, _ = operated
    provider.cost_usd = 0.25
    premium = auth("trend-premium", "premium")
    assert generate(client, premium, variation=1).status_code == 200
    assert generate(client, auth("trend-free", "free"), variation=2).status_code == 200
    assert generate(client, auth("trend-free-2", "free"), variation=1).json_body["cached"] is True
    limited = auth("trend-limited", "free")
    codes = [generate(client, limited, variation=10 + i).status_code for i in range(8)]
    assert codes.count(429) >= 1  # 5 a day for free, 6 requests a minute here

    body = stats(client)
    trends = body["trends"]
    for series, window, length in ((trends["days"], "30d", 30), (trends["hours"], "24h", 24)):
        assert series["window"] == window and len(series["points"]) == length
        assert series["daily_budget_usd"] == container.settings.daily_budget_usd
        now = series["points"][-1]
        assert now["generations"]["premium"] == 1
        assert now["generations"]["free"] == 1 + codes.count(200)
        assert now["spend_usd"] == pytest.approx(0.25 * (2 + codes.count(200)))
        hits, created = 1, 2 + codes.count(200)
        assert now["cache_hit_ratio"] == round(hits / (hits + created), 4)
        assert now["p95_ms"]["procedural"] is not None
        assert now["refusals"]["quota_exceeded"] + now["refusals"]["rate_limited"] == codes.count(429)
        assert series["points"][0]["generations"]["free"] == 0
        assert series["points"][0]["cache_hit_ratio"] is None
    assert trends["hours"]["points"][-1]["period"] == datetime.now(UTC).strftime("%Y-%m-%dT%H:00Z")
    assert trends["days"]["points"][-1]["period"] == datetime.now(UTC).strftime("%Y-%m-%d")
    # Today's trend point and today's totals agree.
    assert trends["days"]["points"][-1]["spend_usd"] == body["today"]["spend"]["total_usd"]


def test_a_refused_prompt_counts_as_a_refusal_in_the_trends(operated: Any) -> None:
    client, _, _, _ = operated
    refused = generate(client, auth("trend-moderated", "free"), prompt="a swastika flag")
    assert refused.status_code == 422, refused.body
    hours = stats(client)["trends"]["hours"]["points"]
    assert hours[-1]["refusals"]["content_rejected"] == 1


def test_the_trend_counters_expire_past_their_window(
    operated: Any, redis_server: Any, tmp_path: Path
) -> None:
    client, _, _, _ = operated
    assert generate(client, auth("trend-ttl", "free"), variation=5).status_code == 200
    prefix = f"tr-{tmp_path.name}:"
    hour = hour_id(time.time())
    day = datetime.now(UTC).strftime("%Y%m%d")
    hourly = redis_server.ttl(f"{prefix}stats:hour:{hour}:tier:free")
    daily = redis_server.ttl(f"{prefix}stats:day:{day}:tier:free")
    admitted = redis_server.ttl(f"{prefix}stats:hour:{hour}:admit:created")
    assert 0 < hourly <= HOUR_TREND_TTL_S and 0 < admitted <= HOUR_TREND_TTL_S
    assert HOUR_TREND_TTL_S < daily <= DAY_TREND_TTL_S
