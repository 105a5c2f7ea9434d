"""GET /v1/admin/stats: counters kept as the work happens, read back in one store call."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.periods import spend_keys
from chalicelib.ports import ProviderDown
from chalicelib.services.operations.counters import LATENCY_BUCKETS_MS, bucket_label, job_counters
from chalicelib.services.operations.stats import budget_state, percentile
from tests.conftest import auth
from tests.fakes import CountingRedis, RecordingProvider
from tests.ops_support import admin_headers, operated_app


@pytest.fixture
def counted(tmp_path: Path, redis_server: Any, objects: Any, provider: RecordingProvider) -> Iterator[Any]:
    counter = CountingRedis(RedisPyClient(redis_server))
    store = RedisStateStore(counter, prefix=f"stats-{tmp_path.name}:")
    with operated_app(tmp_path, store, objects, provider) as (client, container):
        yield client, container, counter


def generate(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return client.http.post("/v1/generations", headers=headers, body=json.dumps({"style": "pixel", **body}))


def test_stats_count_admissions_jobs_providers_and_spend(counted: Any, provider: RecordingProvider) -> None:
    client, _, counter = counted
    provider.cost_usd = 0.003
    premium = auth("stats-premium", "premium")
    assert generate(client, premium, variation=1).status_code == 200
    assert generate(client, premium, variation=2).status_code == 200
    hit = generate(client, auth("stats-free", "free"), variation=1)
    assert hit.json_body["cached"] is True
    provider.error = ProviderDown("the renderer is down")
    assert generate(client, premium, variation=3).status_code == 503
    provider.error = None

    counter.calls.clear()
    response = client.http.get("/v1/admin/stats", headers=admin_headers())
    assert response.status_code == 200, response.body
    # One store call, no scan; then the call's audit event (api/audit.py), one more.
    assert counter.calls == ["command:MGET", "script:audit_append"]
    assert response.headers["Cache-Control"] == "no-store"
    stats = response.json_body
    for period in ("today", "month"):
        body = stats[period]
        assert body["admissions"]["created"] == 3
        assert body["admissions"]["cached"] == 1
        assert body["cache_hit_ratio"] == 0.25
        assert body["generations"]["by_status"] == {"succeeded": 2, "failed": 1}
        assert body["generations"]["by_tier"]["premium"] == 3
        assert body["generations"]["by_provider"] == {"procedural": 2}
        procedural = body["providers"]["procedural"]
        assert (procedural["succeeded"], procedural["errors"]) == (2, 1)
        assert procedural["error_rate"] == pytest.approx(1 / 3, abs=1e-3)
        assert procedural["latency"]["samples"] == 2
        assert procedural["latency"]["p50_ms"] in LATENCY_BUCKETS_MS
        assert procedural["latency"]["p95_ms"] >= procedural["latency"]["p50_ms"]
        assert body["spend"] == {
            "total_usd": pytest.approx(0.006),
            "by_provider": {"procedural": pytest.approx(0.006)},
        }
    assert stats["today"]["period"] == "day" and len(stats["today"]["id"]) == 10
    assert stats["month"]["period"] == "month" and len(stats["month"]["id"]) == 7
    budget = stats["budget"]
    assert budget["daily"]["limit_usd"] == 25.0 and budget["monthly"]["limit_usd"] == 500.0
    assert budget["daily"]["spent_usd"] == pytest.approx(0.006)
    assert budget["state"] == "ok"
    projection = stats["projection"]  # this month's pace, in the shape the dashboard reads
    assert set(projection) == {
        "month",
        "spent_usd",
        "projected_usd",
        "budget_usd",
        "runs_out_on",
        "pace_usd_per_day",
    }
    assert projection["month"] == stats["month"]["id"]
    assert projection["spent_usd"] == pytest.approx(0.006) and projection["budget_usd"] == 500.0
    assert projection["projected_usd"] >= projection["spent_usd"] and projection["runs_out_on"] is None


def test_the_hot_path_stays_one_call_with_the_counters(counted: Any) -> None:
    client, _, counter = counted
    assert generate(client, auth("hot-1"), variation=40).status_code == 200
    counter.calls.clear()
    assert generate(client, auth("hot-2"), variation=40).json_body["cached"] is True
    assert counter.calls == ["script:admit"]


@pytest.mark.parametrize(
    ("day_spent", "month_spent", "states"),
    [
        (10.0, 100.0, ("ok", "ok", "ok")),
        (20.0, 100.0, ("warning", "ok", "warning")),
        (25.0, 100.0, ("exhausted", "ok", "exhausted")),
        (1.0, 450.0, ("ok", "warning", "warning")),
        (1.0, 600.0, ("ok", "exhausted", "exhausted")),
    ],
)
def test_budget_state(
    counted: Any, day_spent: float, month_spent: float, states: tuple[str, str, str]
) -> None:
    client, container, _ = counted
    day, month = spend_keys(time.time())
    container.ports.store.kv.set(day, repr(day_spent))
    container.ports.store.kv.set(month, repr(month_spent))
    budget = client.http.get("/v1/admin/stats", headers=admin_headers()).json_body["budget"]
    assert (budget["daily"]["state"], budget["monthly"]["state"], budget["state"]) == states
    assert budget["daily"]["ratio"] == pytest.approx(day_spent / 25.0)


def test_empty_stats_have_no_ratios() -> None:
    assert percentile([0] * 10, 0.5) is None
    assert percentile([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.5) == 250.0
    assert percentile([5, 0, 0, 0, 0, 0, 0, 0, 0, 5], 0.95) == 60000.0  # the open bucket: its lower bound
    assert percentile([0, 6, 3, 1, 0, 0, 0, 0, 0, 0], 0.5) == 500.0
    assert percentile([0, 6, 3, 1, 0, 0, 0, 0, 0, 0], 0.95) == 2000.0
    assert [bucket_label(v) for v in (0, 250, 251, 59_999, 60_001, float("nan"))] == [
        "le250",
        "le250",
        "le500",
        "le60000",
        "inf",
        "inf",
    ]
    assert budget_state(0, 0) == "ok"
    assert budget_state(19.99, 25) == "ok"
    counters = job_counters(0, status="failed", tier="free", failed_providers=["fal", "together"])
    assert {c.key.split(":", 3)[3] for c in counters} == {
        "status:failed",
        "tier:free",
        "provider:fal:error",
        "provider:together:error",
    }


def test_stats_need_the_store(counted: Any, monkeypatch: Any) -> None:
    from chalicelib.ports import StoreError

    client, container, _ = counted

    def down(keys: Any) -> Any:
        raise StoreError("down")

    monkeypatch.setattr(container.ports.store.counters, "values", down)
    response = client.http.get("/v1/admin/stats", headers=admin_headers())
    assert response.status_code == 503
    assert response.json_body["error"]["code"] == "store_unavailable"
