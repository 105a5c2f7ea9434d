"""The schnell-against-dev experiment through the HTTP API, with fal stood in (respx, fal's
response shape): the arm per user, the dev model, separate caches, adoption and the admin stats."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import respx
from pydantic import ValidationError

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.config import Settings
from chalicelib.domain.experiment import arm_for, wilson_interval
from tests.conftest import auth
from tests.functional import test_failover as failover
from tests.functional.test_failover import FAL, FAL_SCHNELL, Wire, fal_ok, post
from tests.ops_support import ADMIN_TOKEN, admin_headers
from tests.unit.providers.helpers import png_bytes

vendors = failover.vendors
wire = failover.wire
client = failover.client

FAL_DEV = f"{FAL}/fal-ai/flux/dev"
JSON = {"Content-Type": "application/json"}


def user_in(arm: str, share: float) -> str:
    """A user id the experiment puts in ``arm`` at ``share`` (assignment is a pure function)."""
    return next(f"exp-{i}" for i in itertools.count() if arm_for(f"u:exp-{i}", share) == arm)


def stand_in_fal(vendors: respx.MockRouter) -> tuple[respx.Route, respx.Route]:
    shades = itertools.count(30, 30)  # a picture of its own per call (images are content-addressed)

    def answer(request: Any) -> Any:
        return fal_ok(png_bytes(96, (next(shades) % 250, 80, 120)))

    return vendors.post(FAL_SCHNELL).mock(side_effect=answer), vendors.post(FAL_DEV).mock(side_effect=answer)


def test_each_user_keeps_an_arm_and_the_stats_show_adoption_and_cost(
    client: Any, wire: Wire, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    container = wire(experiment_dev_share=0.5, admin_token=ADMIN_TOKEN)
    schnell, dev = stand_in_fal(vendors)
    dev_user, schnell_user = user_in("dev", 0.5), user_in("schnell", 0.5)
    body = {"style": "anime", "prompt": "a fox in a scarf"}

    made_by_dev = post(client, body, {**JSON, **auth(dev_user, "free")})
    assert made_by_dev.status_code == 200, made_by_dev.body
    assert (dev.call_count, schnell.call_count) == (1, 0)  # FLUX dev for a fast request
    assert json.loads(dev.calls.last.request.content)["num_inference_steps"] == 28
    # The identical request from a schnell user is not served the dev result (the arms' models
    # are part of the cache key): schnell makes its own.
    made_by_schnell = post(client, body, {**JSON, **auth(schnell_user, "free")})
    assert made_by_schnell.json_body["cached"] is False
    assert (dev.call_count, schnell.call_count) == (1, 1)
    # The same user always lands in the same arm: a repeat is their own arm's cache hit.
    again = post(client, body, {**JSON, **auth(dev_user, "free")})
    assert again.json_body["cached"] is True and again.json_body["images"] == made_by_dev.json_body["images"]
    assert dev.call_count == 1

    records = {
        arm: store.generations.get(response.json_body["id"])
        for arm, response in (("dev", made_by_dev), ("schnell", made_by_schnell))
    }
    assert {arm: r.arm for arm, r in records.items() if r} == {"dev": "dev", "schnell": "schnell"}
    assert records["dev"] is not None and records["schnell"] is not None
    dev_cost, schnell_cost = records["dev"].cost_usd or 0.0, records["schnell"].cost_usd or 0.0
    assert dev_cost > schnell_cost > 0

    # The dev user adopts theirs (twice: it counts once); the cache hit is no generation of an arm.
    for _ in range(2):
        chosen = client.http.put(
            "/v1/me/avatar",
            headers={**JSON, **auth(dev_user, "free")},
            body=json.dumps({"generation_id": made_by_dev.json_body["id"]}),
        )
        assert chosen.status_code == 200, chosen.body

    stats = client.http.get("/v1/admin/stats", headers=admin_headers()).json_body["experiments"]
    assert set(stats) == {"flux_dev_for_fast"}
    experiment = stats["flux_dev_for_fast"]
    assert experiment["share"] == 0.5
    arms = {arm["arm"]: arm for arm in experiment["arms"]}
    low, high = wilson_interval(1, 1) or (0.0, 0.0)
    assert arms["dev"] == {
        "arm": "dev",
        "generations": 1,
        "adopted": 1,
        "adoption_rate": 1.0,
        "adoption_ci95": [round(low, 4), round(high, 4)],
        "cost_usd": round(dev_cost, 6),
        "cost_per_adopted_usd": round(dev_cost, 6),
        "p50_latency_ms": 250.0,  # the stand-in answers at once: the first bucket
    }
    assert arms["schnell"]["generations"] == 1 and arms["schnell"]["adopted"] == 0
    assert arms["schnell"]["adoption_rate"] == 0.0 and arms["schnell"]["cost_per_adopted_usd"] is None
    assert arms["schnell"]["cost_usd"] == round(schnell_cost, 6)
    assert container.policy.experiment_dev_share == 0.5


def test_off_by_default_every_fast_request_is_schnell_and_nothing_is_recorded(
    client: Any, wire: Wire, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    wire(admin_token=ADMIN_TOKEN)
    schnell, dev = stand_in_fal(vendors)
    made = post(client, {"style": "anime", "prompt": "an owl"}, {**JSON, **auth(user_in("dev", 0.5), "free")})
    assert made.status_code == 200 and (schnell.call_count, dev.call_count) == (1, 0)
    record = store.generations.get(made.json_body["id"])
    assert record is not None and record.arm is None
    experiment = client.http.get("/v1/admin/stats", headers=admin_headers()).json_body["experiments"]
    assert experiment["flux_dev_for_fast"]["share"] == 0.0
    assert [
        (a["arm"], a["generations"], a["adoption_rate"], a["adoption_ci95"], a["p50_latency_ms"])
        for a in experiment["flux_dev_for_fast"]["arms"]
    ] == [("schnell", 0, None, None, None), ("dev", 0, None, None, None)]


@pytest.mark.parametrize("value", ["1.5", "-0.1", "abc", "nan", "inf"])
def test_a_share_outside_0_to_1_is_a_start_up_error_naming_the_setting(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.from_env({"AVATARFLOW_EXPERIMENT_DEV_SHARE": value})
    assert "AVATARFLOW_EXPERIMENT_DEV_SHARE" in str(refused.value)
    assert Settings.from_env({"AVATARFLOW_EXPERIMENT_DEV_SHARE": "0.25"}).experiment_dev_share == 0.25


def test_an_enterprise_request_in_the_dev_arm_runs_in_its_own_lane_on_flux_dev(
    client: Any, wire: Wire, vendors: respx.MockRouter, store: RedisStateStore
) -> None:
    # The experiment (issue 17, item 6) and enterprise's own lane (item 4) together: the arm changes
    # the model, never the lane.
    wire(experiment_dev_share=1.0)
    schnell, dev = stand_in_fal(vendors)
    made = post(client, {"style": "anime", "prompt": "a heron"}, {**JSON, **auth("exp-ent", "enterprise")})
    assert made.status_code == 200, made.body
    assert made.json_body["lane"] == "enterprise" and made.json_body["quality"] == "fast"
    assert (dev.call_count, schnell.call_count) == (1, 0)
    record = store.generations.get(made.json_body["id"])
    assert record is not None and record.arm == "dev" and record.lane == "enterprise"
