"""Fixtures of the use-case tests: ``build(**knobs)`` wires the use cases (``wiring.py``) on this
test's embedded Redis prefix; ``use_cases`` is the default wiring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from tests.unit.services.wiring import Build, UseCases, wire


@pytest.fixture
def build(store: RedisStateStore, objects: LocalObjectStore, tmp_path: Path) -> Iterator[Build]:
    """``build(**knobs)``: the use cases wired like ``bootstrap/wiring.py``, with test doubles; the
    seeded gallery (``objects``) offers suggestions, the jobs' images go under ``tmp_path``."""
    built: list[UseCases] = []

    def make(**knobs: Any) -> UseCases:
        built.append(wire(store, objects, tmp_path / "objects", **knobs))
        return built[-1]

    yield make
    for use_cases in built:
        assert use_cases.budget_alerts.wait_idle(), "a background budget check did not finish"


@pytest.fixture
def use_cases(build: Build) -> UseCases:
    """The default wiring: in-process runs (no provider queue API), the policy's defaults."""
    return build()
