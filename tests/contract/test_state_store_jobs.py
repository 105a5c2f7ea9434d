"""The state store contract, async jobs part: provider jobs, releases, timers, batch counts.

Run on every adapter (the ``backend`` fixture of ``test_state_store``: embedded and Upstash).
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.generation import Failure, Generation, Success, iso
from chalicelib.domain.provider_job import ProviderJob
from chalicelib.ports import AdmitRequest, AdmitResult, Counter, Finish
from tests.contract.test_state_store import Backend, backend, gen_id, now_ms

__all__ = ["backend"]  # the parametrized fixture, shared with the main suite

HOUR = 3_600_000


def admit(
    store: RedisStateStore, ident: str, req_hash: str, *, at: int, callback_url: str | None = None
) -> AdmitResult:
    new = Generation(
        id=gen_id(),
        owner=ident,
        style="anime",
        prompt="",
        variation=0,
        size=512,
        quality="fast",
        lane="batch",
        tier="enterprise",
        created_at="2030-01-01T00:00:00.000Z",
        request_hash=req_hash,
        callback_url=callback_url,
    )
    return store.generations.admit(
        AdmitRequest(
            generation=new,
            windows=[],
            rate_key=f"rl:{ident}",
            rate_limit=1000,
            rate_reset_at=at // 1000 + 60,
            now_ms=at,
            deadline_ms=at + 900_000,
        )
    )


def new_job(
    store: RedisStateStore, req_hash: str, *, at: int | None = None, callback_url: str | None = None
) -> str:
    result = admit(store, "k:key_1", req_hash, at=now_ms() if at is None else at, callback_url=callback_url)
    assert result.outcome == "created" and result.generation is not None
    return result.generation.id


def finish(store: RedisStateStore, gid: str, req_hash: str, status: str = "succeeded") -> bool:
    generation = store.generations.get(gid)
    assert generation is not None
    outcome: Success | Failure = (
        Success({"512": "img/x.webp"}, "fal")
        if status == "succeeded"
        else Failure("provider_unavailable", "down")
    )
    # Callbacks are due when the job ends.
    return store.generations.finish(Finish(generation.ended(outcome, iso(time.time())))).ended


def test_a_provider_job_holds_the_claim_and_schedules_its_poll(backend: Backend) -> None:
    store = backend.store
    gid = new_job(store, "pj1")
    at = now_ms()
    assert not store.generations.hand_to_provider(
        gid, ProviderJob("fal", "r1"), at + HOUR, at + 20_000
    )  # queued
    assert store.generations.claim(gid, at, 120_000) is not None
    assert store.generations.hand_to_provider(gid, ProviderJob("fal", "r1"), at + HOUR, at + 20_000)
    record = store.generations.get(gid)
    assert record is not None
    assert record.provider_job == ProviderJob("fal", "r1")
    assert record.lease_until_ms == at + HOUR
    # Past the ordinary lease, a redelivered message still cannot take it: it is at the provider.
    assert store.generations.claim(gid, at + 200_000, 120_000) is None
    assert store.timers.due("poll", at + 19_999) == []
    assert store.timers.due("poll", at + 20_000) == [gid]
    assert finish(store, gid, "pj1")
    assert store.timers.due("poll", at + HOUR) == []  # an ended job is polled no more


def test_a_released_job_is_queued_again_without_its_provider_job(backend: Backend) -> None:
    store = backend.store
    gid = new_job(store, "rel1")
    at = now_ms()
    assert not store.generations.release(gid)  # not running
    store.generations.claim(gid, at, 120_000)
    store.generations.hand_to_provider(gid, ProviderJob("fal", "r1"), at + HOUR, at + 20_000)
    assert store.generations.release(gid)
    record = store.generations.get(gid)
    assert record is not None
    assert record.status == "queued"
    assert record.provider_job is None and record.lease_until_ms == 0
    assert store.timers.due("poll", at + HOUR) == []
    again = store.generations.claim(gid, at + 1, 120_000)
    assert again is not None and again.attempts == 2
    assert not store.generations.hand_to_provider(gen_id(), ProviderJob("fal", "r0"), at, at)  # unknown job


def test_deadlines_list_open_jobs_past_due_earliest_first(backend: Backend) -> None:
    store = backend.store
    at = now_ms()
    late = new_job(store, "dl1", at=at - 10_000)  # deadline at + 890 s
    later = new_job(store, "dl2", at=at)
    assert store.timers.due("deadline", at) == []
    assert store.timers.due("deadline", at + 900_000) == [late, later]
    assert store.timers.due("deadline", at + 900_000, limit=1) == [late]
    finish(store, late, "dl1", "failed")
    assert store.timers.due("deadline", at + 900_000) == [later]
    store.timers.schedule("deadline", later, None)  # a stale entry can be dropped
    assert store.timers.due("deadline", at + 900_000) == []
    with pytest.raises(ValueError):
        store.timers.schedule("deadline", later, at)


def test_timers_between_two_times_latest_first(backend: Backend) -> None:
    store = backend.store
    at = now_ms()
    old = new_job(store, "db1", at=at - 60_000)  # deadline at + 840 s
    newer = new_job(store, "db2", at=at - 40_000)  # at + 860 s
    fresh = new_job(store, "db3", at=at)  # at + 900 s
    assert store.timers.due_between("deadline", at, at + 870_000) == [newer, old]
    assert store.timers.due_between("deadline", at, at + 870_000, limit=1) == [newer]
    assert store.timers.due_between("deadline", at + 850_000, at + 900_000) == [fresh, newer]
    assert store.timers.due_between("deadline", at + 901_000, at + 999_000) == []


def test_ending_a_job_with_a_callback_url_schedules_its_callback_and_its_followers(backend: Backend) -> None:
    store = backend.store
    at = now_ms()
    hook = "https://hooks.example.com/x"
    leader = new_job(store, "cb1", callback_url=hook)
    follower = admit(store, "k:key_2", "cb1", at=at, callback_url=hook)
    silent_follower = admit(store, "k:key_3", "cb1", at=at)
    assert follower.outcome == silent_follower.outcome == "joined"
    assert follower.generation is not None and silent_follower.generation is not None
    plain = new_job(store, "cb2")
    finish(store, plain, "cb2")
    assert store.timers.due("callback", at + HOUR) == []
    assert finish(store, leader, "cb1")
    due = store.timers.due("callback", at + HOUR)
    assert sorted(due) == sorted([leader, follower.generation.id])
    store.timers.schedule("callback", leader, at + 2 * HOUR)
    assert store.timers.due("callback", at + HOUR) == [follower.generation.id]
    store.timers.schedule("callback", follower.generation.id, None)
    assert store.timers.due("callback", at + HOUR) == []


def test_statuses_of_many_generations_in_one_call(backend: Backend) -> None:
    store = backend.store
    done, running, waiting = new_job(store, "st1"), new_job(store, "st2"), new_job(store, "st3")
    finish(store, done, "st1")
    store.generations.claim(running, now_ms(), 120_000)
    assert store.generations.statuses([done, running, waiting, gen_id()]) == [
        "succeeded",
        "running",
        "queued",
        None,
    ]
    assert store.generations.statuses([]) == []


def test_an_ended_job_still_counts_the_spend_of_a_late_result_but_not_its_stats(backend: Backend) -> None:
    store = backend.store
    gid = new_job(store, "late1")
    generation = store.generations.get(gid)
    assert generation is not None
    ended_at = iso(time.time())
    # The reaper fails it past its deadline: it counts once as failed, and nothing was paid.
    reaped = generation.ended(Failure("timeout", "past its deadline"), ended_at)
    assert store.generations.finish(Finish(reaped, counters=[Counter("stats:late:status:failed", 1, 3600)]))

    # The provider's result arrives after that: the job stays failed and is counted no more, but
    # the provider was paid, and the spend guard must see it.
    late = Finish(
        generation.ended(Success({"512": "img/late.webp"}, "fal", cost_usd=0.25), ended_at),
        counters=[Counter("stats:late:status:succeeded", 1, 3600)],
        spend=[Counter("spend:day:late", 0.25, 3600), Counter("spend:month:late", 0.25, 7200)],
    )
    assert store.generations.finish(late).ended is False
    keys = ["spend:day:late", "spend:month:late", "stats:late:status:succeeded", "stats:late:status:failed"]
    assert store.counters.values(keys) == [0.25, 0.25, 0.0, 1.0]
    assert 3500 < int(backend.raw.command("TTL", f"{backend.prefix}spend:month:late")) <= 7200
    record = store.generations.get(gid)
    assert record is not None
    assert (record.status, record.images, record.error is not None) == ("failed", None, True)

    # Each paid call counts (a second run paid again), and so does a job no longer known.
    assert store.generations.finish(late).ended is False
    gone = dataclasses.replace(late, generation=dataclasses.replace(late.generation, id=gen_id()))
    assert store.generations.finish(gone).ended is False
    assert store.counters.values(keys) == [0.75, 0.75, 0.0, 1.0]
