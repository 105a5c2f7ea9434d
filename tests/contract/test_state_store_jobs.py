"""The state store contract, async jobs part: provider jobs, releases, timers, batch counts.

Run on every adapter (the ``backend`` fixture of ``test_state_store``: embedded and Upstash).
"""

from __future__ import annotations

import json
import time

import pytest

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.ports import AdmitRequest, AdmitResult, Finish
from chalicelib.services.generations import iso
from tests.contract.test_state_store import Backend, backend, gen_id, now_ms

__all__ = ["backend"]  # the parametrized fixture, shared with the main suite

HOUR = 3_600_000


def admit(
    store: RedisStateStore, ident: str, req_hash: str, *, at: int, fields: dict[str, str] | None = None
) -> AdmitResult:
    gid = gen_id()
    record = {
        "id": gid,
        "owner": ident,
        "style": "anime",
        "prompt": "",
        "variation": "0",
        "size": "512",
        "quality": "fast",
        "lane": "batch",
        "created_at": "2030-01-01T00:00:00.000Z",
        "request_hash": req_hash,
        **(fields or {}),
    }
    return store.admit_generation(
        AdmitRequest(
            identity_key=ident,
            generation_id=gid,
            request_hash=req_hash,
            record=record,
            windows=[],
            rate_key=f"rl:{ident}",
            rate_limit=1000,
            rate_reset_at=at // 1000 + 60,
            now_ms=at,
            deadline_ms=at + 900_000,
        )
    )


def new_job(
    store: RedisStateStore, req_hash: str, *, at: int | None = None, fields: dict[str, str] | None = None
) -> str:
    result = admit(store, "k:key_1", req_hash, at=now_ms() if at is None else at, fields=fields)
    assert result.outcome == "created" and result.generation is not None
    return result.generation["id"]


def finish(store: RedisStateStore, gid: str, req_hash: str, status: str = "succeeded") -> bool:
    return store.finish_generation(
        Finish(
            generation_id=gid,
            status=status,  # type: ignore[arg-type]
            completed_at=iso(time.time()),  # callbacks are due when the job ends
            request_hash=req_hash,
            images={"512": "img/x.webp"} if status == "succeeded" else None,
            provider="fal",
        )
    )


def test_a_provider_job_holds_the_claim_and_schedules_its_poll(backend: Backend) -> None:
    store = backend.store
    gid = new_job(store, "pj1")
    at = now_ms()
    assert not store.set_provider_job(gid, '{"provider":"fal","id":"r1"}', at + HOUR, at + 20_000)  # queued
    assert store.claim_job(gid, at, 120_000) is not None
    assert store.set_provider_job(gid, '{"provider":"fal","id":"r1"}', at + HOUR, at + 20_000)
    record = store.get_generation(gid)
    assert record is not None
    assert json.loads(record["provider_job"]) == {"provider": "fal", "id": "r1"}
    assert record["lease_until"] == str(at + HOUR)
    # Past the ordinary lease, a redelivered message still cannot take it: it is at the provider.
    assert store.claim_job(gid, at + 200_000, 120_000) is None
    assert store.due_jobs("poll", at + 19_999) == []
    assert store.due_jobs("poll", at + 20_000) == [gid]
    assert finish(store, gid, "pj1")
    assert store.due_jobs("poll", at + HOUR) == []  # an ended job is polled no more


def test_a_released_job_is_queued_again_without_its_provider_job(backend: Backend) -> None:
    store = backend.store
    gid = new_job(store, "rel1")
    at = now_ms()
    assert not store.release_job(gid)  # not running
    store.claim_job(gid, at, 120_000)
    store.set_provider_job(gid, '{"provider":"fal","id":"r1"}', at + HOUR, at + 20_000)
    assert store.release_job(gid)
    record = store.get_generation(gid)
    assert record is not None
    assert record["status"] == "queued"
    assert "provider_job" not in record and "lease_until" not in record
    assert store.due_jobs("poll", at + HOUR) == []
    again = store.claim_job(gid, at + 1, 120_000)
    assert again is not None and again["attempts"] == "2"
    assert not store.set_provider_job(gen_id(), "{}", at, at)  # unknown job


def test_deadlines_list_open_jobs_past_due_earliest_first(backend: Backend) -> None:
    store = backend.store
    at = now_ms()
    late = new_job(store, "dl1", at=at - 10_000)  # deadline at + 890 s
    later = new_job(store, "dl2", at=at)
    assert store.due_jobs("deadline", at) == []
    assert store.due_jobs("deadline", at + 900_000) == [late, later]
    assert store.due_jobs("deadline", at + 900_000, limit=1) == [late]
    finish(store, late, "dl1", "failed")
    assert store.due_jobs("deadline", at + 900_000) == [later]
    store.schedule_job("deadline", later, None)  # a stale entry can be dropped
    assert store.due_jobs("deadline", at + 900_000) == []
    with pytest.raises(ValueError):
        store.schedule_job("deadline", later, at)


def test_ending_a_job_with_a_callback_url_schedules_its_callback_and_its_followers(backend: Backend) -> None:
    store = backend.store
    at = now_ms()
    hook = {"callback_url": "https://hooks.example.com/x"}
    leader = new_job(store, "cb1", fields=hook)
    follower = admit(store, "k:key_2", "cb1", at=at, fields=hook)
    silent_follower = admit(store, "k:key_3", "cb1", at=at)
    assert follower.outcome == silent_follower.outcome == "joined"
    assert follower.generation is not None and silent_follower.generation is not None
    plain = new_job(store, "cb2")
    finish(store, plain, "cb2")
    assert store.due_jobs("callback", at + HOUR) == []
    assert finish(store, leader, "cb1")
    due = store.due_jobs("callback", at + HOUR)
    assert sorted(due) == sorted([leader, follower.generation["id"]])
    store.schedule_job("callback", leader, at + 2 * HOUR)
    assert store.due_jobs("callback", at + HOUR) == [follower.generation["id"]]
    store.schedule_job("callback", follower.generation["id"], None)
    assert store.due_jobs("callback", at + HOUR) == []


def test_statuses_of_many_generations_in_one_call(backend: Backend) -> None:
    store = backend.store
    done, running, waiting = new_job(store, "st1"), new_job(store, "st2"), new_job(store, "st3")
    finish(store, done, "st1")
    store.claim_job(running, now_ms(), 120_000)
    assert store.generation_statuses([done, running, waiting, gen_id()]) == [
        "succeeded",
        "running",
        "queued",
        None,
    ]
    assert store.generation_statuses([]) == []
