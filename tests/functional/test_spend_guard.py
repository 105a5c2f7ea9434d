"""The spend guard: cost is counted as jobs finish; past the budget AI generation degrades by tier."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from chalice.test import Client

from app import app
from chalicelib.bootstrap import build_container, set_container
from chalicelib.domain.generation import Failure
from chalicelib.domain.periods import spend_keys, stats_prefixes
from chalicelib.services.generation.run_job import provider_request
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider


def post(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return client.http.post("/v1/generations", headers=headers, body=json.dumps(body))


def test_finished_jobs_add_their_cost_to_day_and_month_counters(
    client: Any, store: Any, provider: RecordingProvider
) -> None:
    provider.cost_usd = 0.003
    for variation in range(2):
        assert post(client, auth("spender", "premium"), style="anime", variation=variation).status_code == 200
    day, month = spend_keys(time.time())
    assert float(store.kv.get(day)) == 0.006
    assert float(store.kv.get(month)) == 0.006
    assert float(store.kv.get(f"{day}:provider:procedural")) == 0.006
    assert float(store.kv.get(f"{day}:tier:premium")) == 0.006
    # a cache hit costs nothing
    assert post(client, auth("spender2", "free"), style="anime", variation=0).json_body["cached"] is True
    assert float(store.kv.get(day)) == 0.006


def test_at_100_percent_free_and_anonymous_get_503_and_premium_goes_on(client: Any, store: Any) -> None:
    day, _ = spend_keys(time.time())
    store.kv.set(day, "25.0")  # the default daily budget, all spent
    for headers in (auth("free-user", "free"), {"Content-Type": "application/json"}):
        refused = post(client, headers, style="oil", variation=1)
        assert refused.status_code == 503
        assert refused.json_body["error"]["code"] == "budget_exhausted"
        assert refused.json_body["suggestions"]
    assert post(client, auth("paying", "premium"), style="oil", variation=1).status_code == 200
    # cached results stay available to everyone
    assert post(client, auth("free-user", "free"), style="oil", variation=1).json_body["cached"] is True
    # nothing was charged for the refused requests
    quota = client.http.get("/v1/me/quota", headers=auth("free-user", "free")).json_body
    assert all(w["remaining"] == 5 for w in quota["limits"])


def test_premium_stops_at_the_hard_cap(client: Any, store: Any) -> None:
    _, month = spend_keys(time.time())
    store.kv.set(month, "750.0")  # 1.5 x the default monthly budget
    refused = post(client, auth("paying", "premium"), style="flat", variation=3)
    assert refused.status_code == 503
    assert refused.json_body["error"]["code"] == "budget_exhausted"


def test_a_late_result_of_a_reaped_job_still_counts_its_spend(
    tmp_path: Path, store: Any, objects: Any
) -> None:
    provider = RecordingProvider(cost_usd=0.004)
    container = build_container(
        make_settings(tmp_path), store=store, objects=objects, provider=provider, start_workers=False
    )
    set_container(container)
    try:
        with Client(app, stage_name="local") as client:
            accepted = post(client, {**auth("late", "premium"), "Prefer": "respond-async"}, style="anime")
        assert accepted.status_code == 202
        # A worker claims the job and calls the provider; meanwhile the reaper fails it (past its deadline).
        running = store.generations.claim(accepted.json_body["id"], int(time.time() * 1000), 120_000)
        assert running is not None
        assert (
            container.generation.steps.finish.fail(running, Failure("timeout", "past its deadline"))
            is not None
        )
        result = provider.generate(provider_request(running))
        assert container.generation.steps.finish.succeed(running, result) is None  # too late to end it...
    finally:
        set_container(None)
    day, month = spend_keys(time.time())
    assert float(store.kv.get(day)) == float(store.kv.get(month)) == 0.004  # ...but paid for
    assert float(store.kv.get(f"{day}:provider:procedural")) == 0.004
    stats_day, _ = stats_prefixes(time.time())
    counted = store.counters.values([f"{stats_day}status:failed", f"{stats_day}status:succeeded"])
    assert counted == [1.0, 0.0]  # the job counts once, as it ended
    record = store.generations.get(running.id)
    assert record is not None and record.status == "failed"
