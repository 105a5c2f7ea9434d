"""WaitForGeneration: a request waiting for a job someone else runs blocks on the store until the
job ends or the wait runs out: one round trip, no polling, on both store adapters (the contract
suite covers Upstash)."""

from __future__ import annotations

import threading
import time

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.ports import StoreError
from chalicelib.services.generation.waiting import WaitForGeneration
from tests.fakes import CountingRedis
from tests.unit.services.wiring import OTHER_USER, USER, UseCases


def test_a_joined_request_is_woken_by_its_leaders_end_in_one_call(use_cases: UseCases) -> None:
    leader = use_cases.claimed(USER)
    joined = use_cases.admission.admit(OTHER_USER, use_cases.request_for(leader)).generation
    assert joined.leader == leader.id
    ended = threading.Timer(0.2, lambda: use_cases.run_job.run_claimed(leader))
    ended.start()
    started = time.monotonic()
    woken = use_cases.waiting.until_ended(joined, 10.0)
    assert time.monotonic() - started < 5.0  # woken by the end, not by the wait running out
    ended.join()
    assert woken.status == "succeeded" and woken.id == joined.id
    assert woken.images == use_cases.record(leader.id).images
    stored = use_cases.record(joined.id)
    assert (stored.status, stored.images, stored.completed_at) == (
        woken.status,
        woken.images,
        woken.completed_at,
    )


def test_a_job_that_ended_before_the_wait_began_answers_at_once(use_cases: UseCases) -> None:
    leader = use_cases.claimed(USER)
    use_cases.run_job.run_claimed(leader)
    started = time.monotonic()
    assert use_cases.waiting.until_ended(leader, 10.0).status == "succeeded"
    assert time.monotonic() - started < 2.0


def test_the_wait_runs_out_and_the_job_is_answered_as_it_was(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    started = time.monotonic()
    assert use_cases.waiting.until_ended(generation, 0.3) == generation
    assert 0.25 <= time.monotonic() - started < 3.0


def test_a_wait_is_one_call_and_no_wait_is_none(use_cases: UseCases) -> None:
    counting = CountingRedis(use_cases.store.keyspace.client)
    waiting = WaitForGeneration(
        generations=RedisStateStore(counting, use_cases.store.keyspace.prefix).generations
    )
    generation = use_cases.admit(USER)
    assert waiting.until_ended(generation, 0.0) == generation
    assert counting.calls == []
    assert waiting.until_ended(generation, 0.2) == generation
    assert counting.calls == ["command:BLPOP"]


def test_a_wait_the_store_fails_answers_the_admitted_job_as_open(use_cases: UseCases) -> None:
    # Found by bench/stack_spike.py: a BLPOP that timed out on an overloaded Upstash answered the
    # request 503 store_unavailable, although its job was admitted, charged, and went on to succeed.
    class FailingWait:
        def __getattr__(self, name: str) -> object:
            return getattr(use_cases.store.generations, name)

        def wait_ended(self, generation: object, timeout_s: float) -> None:
            raise StoreError("state store command BLPOP failed: timed out")

    waiting = WaitForGeneration(generations=FailingWait())  # type: ignore[arg-type]
    generation = use_cases.admit(USER)
    assert waiting.until_ended(generation, 5.0) == generation
    assert generation.is_open
