"""The experiment's assignment, interval and how an arm changes a generation (no I/O)."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.domain.experiment import arm_for, wilson_interval
from chalicelib.domain.generation import Generation, cache_quality, request_hash


def test_the_arm_is_a_stable_share_of_identities() -> None:
    keys = [f"u:user-{i}" for i in range(20_000)]
    dev = [k for k in keys if arm_for(k, 0.2) == "dev"]
    assert 0.19 < len(dev) / len(keys) < 0.21
    assert all(arm_for(k, 0.2) == "dev" for k in dev)  # the same user, the same arm
    assert all(arm_for(k, 0.5) == "dev" for k in dev)  # raising the share keeps the dev users in dev
    assert {arm_for(k, 0.0) for k in keys[:500]} == {"schnell"}
    assert {arm_for(k, 1.0) for k in keys[:500]} == {"dev"}


def test_wilson_interval() -> None:
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(5, 10) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson_interval(0, 20) or (1, 1)
    assert low == 0.0 and round(high, 4) == 0.1611
    low, high = wilson_interval(20, 20) or (0, 0)
    assert round(low, 4) == 0.8389 and high == pytest.approx(1.0)


def test_the_dev_arm_is_served_by_dev_and_cached_apart() -> None:
    base = Generation(
        id="gen_1",
        owner="u:a",
        style="anime",
        prompt="fox",
        variation=0,
        size=512,
        quality="fast",
        lane="free",
        tier="free",
        created_at="2030-01-01T00:00:00.000Z",
        request_hash="h",
    )
    dev = dataclasses.replace(base, arm="dev")
    schnell = dataclasses.replace(base, arm="schnell")
    assert (base.model_quality, schnell.model_quality, dev.model_quality) == ("fast", "fast", "standard")
    assert (base.cache_quality, schnell.cache_quality, dev.cache_quality) == ("fast", "fast", "fast+dev")
    assert Generation.from_fields(dev.to_fields()) == dev
    assert Generation.from_fields({**dev.to_fields(), "arm": "unknown"}).arm is None
    # The schnell arm keeps the key a fast request always had; the dev arm has its own.
    assert request_hash("anime", "fox", 0, 512, cache_quality("fast", "schnell")) == request_hash(
        "anime", "fox", 0, 512, "fast"
    )
    assert request_hash("anime", "fox", 0, 512, cache_quality("fast", "dev")) != request_hash(
        "anime", "fox", 0, 512, "fast"
    )
