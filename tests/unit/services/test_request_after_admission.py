"""Once admitted, a request is never told it was not done: whatever fails after the admit call
(the store stalls while the job runs at a provider, while it is read back, while it is queued),
the request answers the job as it is (202 with its id) and its lane or the dispatch sweep ends it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.client import Arg, RedisClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.scripts import LuaScript
from chalicelib.ports import StoreError
from chalicelib.services.generation.sweep import SWEEP_AFTER_S
from tests.unit.services.fakes import FakeQueuedProvider
from tests.unit.services.wiring import USER, UseCases, request, wire


class StallsAfterAdmission:
    """A :class:`RedisClient` whose store stops answering right after an admit call returned
    (``armed``), as a store SIGSTOPped mid-request does: every later call is a ``StoreError``."""

    def __init__(self, inner: RedisClient) -> None:
        self._inner = inner
        self.armed = False
        self.down = False

    def run_script(
        self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg], *, timeout: float | None = None
    ) -> Any:
        self._check(script.name)
        reply = self._inner.run_script(script, keys, args, timeout=timeout)
        if script.name == "admit" and self.armed:
            self.down = True
        return reply

    def command(self, *args: Arg, timeout: float | None = None) -> Any:
        self._check(str(args[0]))
        return self._inner.command(*args, timeout=timeout)

    def _check(self, what: str) -> None:
        if self.down:
            raise StoreError(f"state store {what} failed: timed out")


@pytest.fixture
def stalling(store: RedisStateStore, objects: LocalObjectStore, tmp_path: Path) -> Any:
    def make(**knobs: Any) -> tuple[UseCases, StallsAfterAdmission]:
        client = StallsAfterAdmission(store.keyspace.client)
        faulty = RedisStateStore(client, prefix=store.keyspace.prefix)
        return wire(faulty, objects, tmp_path / "objects", **knobs), client

    return make


def test_a_sync_request_at_a_provider_whose_store_stalls_after_admission_answers_202(stalling: Any) -> None:
    # Webhook mode: the request submits its job to a provider's queue API; the store stops answering
    # (the provider job cannot be recorded, the job cannot be released).
    use_cases, client = stalling(queued=[FakeQueuedProvider("fal")])
    client.armed = True
    answered = use_cases.request(USER, request(), wait=5.0)
    assert not answered.finished
    assert answered.generation.status == "running"
    assert answered.generation.id.startswith("gen_")
    client.down = False
    # Charged once; nobody holds it once its lease runs out, and the sweep hands it to its lane.
    assert use_cases.quota_used(USER) == [1, 1]
    use_cases.clock.advance(use_cases.policy.lease_ms / 1000 + SWEEP_AFTER_S)
    assert use_cases.reaper.reap().get("sweep:dispatched") == 1
    assert use_cases.queue.jobs() == [answered.generation.id]


def test_a_sync_request_on_a_thread_whose_store_stalls_answers_202(stalling: Any) -> None:
    use_cases, client = stalling()
    client.armed = True
    answered = use_cases.request(USER, request(), wait=5.0)
    assert not answered.finished
    assert answered.generation.status == "running"
    client.down = False
    assert use_cases.quota_used(USER) == [1, 1]


def test_a_queued_request_whose_enqueue_fails_answers_202_and_the_sweep_dispatches_it(
    use_cases: UseCases,
) -> None:
    use_cases.queue.fail = True
    answered = use_cases.request(USER, request(), respond_async=True)
    assert not answered.finished
    assert answered.generation.status == "queued"
    assert answered.rate_limit is not None and answered.rate_limit.remaining == 4
    assert use_cases.quota_used(USER) == [1, 1]
    use_cases.queue.fail = False
    use_cases.clock.advance(SWEEP_AFTER_S + 1)
    assert use_cases.reaper.reap() == {"sweep:dispatched": 1}
    assert use_cases.lanes.handle(answered.generation.id, receive_count=1) == "done"
    assert use_cases.record(answered.generation.id).status == "succeeded"
    assert use_cases.provider.total_calls == 1


def test_a_queued_request_whose_enqueue_and_store_both_fail_answers_202(stalling: Any) -> None:
    use_cases, client = stalling()
    client.armed = True
    use_cases.queue.fail = True
    answered = use_cases.request(USER, request(), respond_async=True)
    assert answered.generation.status == "queued"
    client.down = False
    assert use_cases.quota_used(USER) == [1, 1]
