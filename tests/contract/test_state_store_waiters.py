"""The state store contract, waiting part: waiters woken without polling, followers ended a chunk at
a time, nothing lost when a waiter gives up or a finisher stops half way.

Run on every adapter (the ``backend`` fixture of ``test_state_store``: embedded and Upstash, where
the wait is a blocking ``BLPOP`` over the REST API).
"""

from __future__ import annotations

import threading
import time

from chalicelib.adapters.store.generations import FOLLOWER_CHUNK
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.generation import Generation, Success, iso
from chalicelib.ports import Finish
from tests.contract.test_state_store import Backend, backend, now_ms
from tests.contract.test_state_store_jobs import admit

__all__ = ["backend"]  # the parametrized fixture, shared with the main suite

IMAGES = {"128": "img/w-128.webp", "512": "img/w-512.webp"}


def leader_and_followers(
    store: RedisStateStore, req_hash: str, followers: int
) -> tuple[Generation, list[Generation]]:
    at = now_ms()
    first = admit(store, "k:leader", req_hash, at=at)
    assert first.outcome == "created" and first.generation is not None
    joined = []
    for n in range(followers):
        result = admit(store, f"k:follower{n}", req_hash, at=at)
        assert result.outcome == "joined" and result.generation is not None
        joined.append(result.generation)
    return first.generation, joined


def end(store: RedisStateStore, generation: Generation) -> Finish:
    return Finish(generation.ended(Success(IMAGES, "fal"), iso(time.time())))


def test_a_waiter_is_woken_by_the_end_in_one_blocking_call(backend: Backend) -> None:
    store = backend.store
    leader, (follower,) = leader_and_followers(store, "w1", 1)
    woken: list[Generation | None] = []
    waiter = threading.Thread(target=lambda: woken.append(store.generations.wait_ended(follower, 10.0)))
    started = time.monotonic()
    waiter.start()
    finished = store.generations.finish(end(store, leader))
    waiter.join(10)
    elapsed = time.monotonic() - started
    assert finished.ended and finished.followers == 1 and finished.pending == 0
    (ended,) = woken
    assert ended is not None and elapsed < 5.0  # woken by the end, not by the wait running out
    assert (ended.id, ended.status, dict(ended.images or {})) == (follower.id, "succeeded", IMAGES)
    stored = store.generations.get(follower.id)
    assert stored is not None and (stored.status, stored.completed_at) == (ended.status, ended.completed_at)


def test_a_waiter_that_gives_up_loses_nothing(backend: Backend) -> None:
    store = backend.store
    leader, (follower,) = leader_and_followers(store, "w2", 1)
    started = time.monotonic()
    assert store.generations.wait_ended(follower, 0.3) is None  # still open: the wait ran out
    assert time.monotonic() - started < 3.0
    assert store.generations.finish(end(store, leader)).ended
    # The outcome waits for whoever asks next (a retry, a later wait): nothing was consumed.
    again = store.generations.wait_ended(follower, 5.0)
    assert again is not None and again.status == "succeeded"
    leader_seen = store.generations.wait_ended(leader, 5.0)
    assert leader_seen is not None and leader_seen.status == "succeeded"


def test_followers_are_ended_a_chunk_per_call_and_every_one_ends(backend: Backend) -> None:
    store = backend.store
    crowd = FOLLOWER_CHUNK * 2 + 7
    leader, followers = leader_and_followers(store, "w3", crowd)
    finished = store.generations.finish(end(store, leader))
    assert (finished.followers, finished.pending) == (FOLLOWER_CHUNK, crowd - FOLLOWER_CHUNK)
    assert store.generations.finish_followers(leader.id)[:2] == (FOLLOWER_CHUNK, 7)
    assert store.generations.finish_followers(leader.id)[:2] == (7, 0)
    assert store.generations.finish_followers(leader.id)[:2] == (0, 0)  # nothing twice
    assert store.generations.statuses([f.id for f in followers]) == ["succeeded"] * crowd
    last = store.generations.wait_ended(followers[-1], 1.0)
    assert last is not None and dict(last.images or {}) == IMAGES


def test_a_finisher_that_stops_half_way_leaves_the_rest_to_the_reaper(backend: Backend) -> None:
    store = backend.store
    leader, followers = leader_and_followers(store, "w4", FOLLOWER_CHUNK + 3)
    assert store.generations.finish(end(store, leader)).pending == 3
    # ... and the finisher dies here. A minute on, the reaper's timer names the job.
    assert store.timers.due("followers", now_ms()) == []
    assert store.timers.due("followers", now_ms() + 61_000) == [leader.id]
    assert store.generations.finish_followers(leader.id)[:2] == (3, 0)
    assert store.timers.due("followers", now_ms() + 61_000) == []
    assert set(store.generations.statuses([f.id for f in followers])) == {"succeeded"}


def test_a_new_identical_job_after_a_failure_gets_followers_of_its_own(backend: Backend) -> None:
    from chalicelib.domain.generation import Failure

    store = backend.store
    leader, _ = leader_and_followers(store, "w5", FOLLOWER_CHUNK + 1)
    failed = store.generations.finish(
        Finish(leader.ended(Failure("provider_unavailable", "down"), iso(time.time())))
    )
    assert failed.pending == 1
    # The failed job left the in-flight slot: the same request starts afresh, and its followers
    # are its own, never ended by the old job's leftovers.
    fresh, (newcomer,) = leader_and_followers(store, "w5", 1)
    assert store.generations.finish_followers(leader.id)[:2] == (1, 0)
    assert store.generations.statuses([newcomer.id]) == ["queued"]
    assert store.generations.finish(end(store, fresh)).followers == 1
    assert store.generations.statuses([newcomer.id]) == ["succeeded"]
