"""The spend guard: cost is counted as jobs finish; past the budget AI generation degrades by tier."""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.domain.periods import spend_keys
from tests.conftest import auth
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
