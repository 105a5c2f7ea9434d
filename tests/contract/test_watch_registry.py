"""The watch registry contract (real-time status), on every state store adapter.

Runs on the embedded Redis and on the Upstash adapter (through the local REST harness), with the
state store contract's ``backend`` fixture: connections with their identity, watches bounded per
connection and checked against the owner in the same atomic call, who watches a topic, a running
job's phase recorded only for the attempt that runs, and everything undone on disconnect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.generation import Failure, Success
from chalicelib.domain.progress import JobProgress
from chalicelib.ports import Connection, Finish, Watcher
from tests.contract import test_state_store as contract
from tests.contract.test_state_store import Backend, admit, created_id, finish, gen_id, now_ms
from tests.upstash_harness import running_harness

backend = contract.backend  # every test runs on each adapter

TTL = 7200


def connect(store: RedisStateStore, connection_id: str, owner: str = "u1") -> None:
    # The contract's generations belong to "u1"-style owner keys; a user connection's key is "u:<sub>".
    kind, _, subject = owner.partition(":") if ":" in owner else ("", "", owner)
    connection = (
        Connection(connection_id, "user", subject, "free")
        if kind == "u"
        else Connection(connection_id, "anonymous", subject, "anonymous")
    )
    store.watches.connect(connection, TTL)


def owned_by(store: RedisStateStore, owner: str, req_hash: str) -> str:
    return created_id(admit(store, owner, req_hash))


def test_a_connection_keeps_its_identity(backend: Backend) -> None:
    watches = backend.store.watches
    watches.connect(Connection("c1==", "user", "alice", "premium"), TTL)
    found = watches.connection("c1==")
    assert found == Connection("c1==", "user", "alice", "premium")
    assert found is not None and found.identity.key == "u:alice"
    assert watches.connection("nobody==") is None
    ttl = int(backend.raw.command("TTL", f"{backend.prefix}ws:conn:c1=="))
    assert 0 < ttl <= TTL


def test_watching_an_own_generation_answers_it_as_it_is_now(backend: Backend) -> None:
    store = backend.store
    gid = owned_by(store, "ip:alice", "h1")
    connect(store, "c1", "ip:alice")
    result = store.watches.watch_generation("c1", gid, limit=20, ttl_s=TTL)
    assert result.outcome == "ok"
    assert result.generation == store.generations.get(gid)
    assert store.watches.watchers([gid]) == [Watcher("c1", gid)]


def test_another_owners_or_a_missing_generation_is_not_found_and_not_watched(backend: Backend) -> None:
    store = backend.store
    theirs = owned_by(store, "ip:bob", "h1")
    connect(store, "c1", "ip:alice")
    assert store.watches.watch_generation("c1", theirs, limit=20, ttl_s=TTL).outcome == "not_found"
    assert store.watches.watch_generation("c1", gen_id(), limit=20, ttl_s=TTL).outcome == "not_found"
    assert store.watches.watchers([theirs]) == []


def test_an_unknown_connection_watches_nothing(backend: Backend) -> None:
    store = backend.store
    gid = owned_by(store, "ip:alice", "h1")
    assert store.watches.watch_generation("ghost", gid, limit=20, ttl_s=TTL).outcome == "unknown_connection"
    assert store.watches.watch_topic("ghost", "bat_x", limit=20, ttl_s=TTL) == "unknown_connection"
    assert store.watches.watchers([gid, "bat_x"]) == []


def test_watches_are_bounded_per_connection_and_a_repeat_costs_nothing(backend: Backend) -> None:
    store = backend.store
    connect(store, "c1", "ip:alice")
    ids = [owned_by(store, "ip:alice", f"h{n}") for n in range(3)]
    for gid in ids[:2]:
        assert store.watches.watch_generation("c1", gid, limit=2, ttl_s=TTL).outcome == "ok"
    assert store.watches.watch_generation("c1", ids[0], limit=2, ttl_s=TTL).outcome == "ok"  # again
    assert store.watches.watch_generation("c1", ids[2], limit=2, ttl_s=TTL).outcome == "too_many"
    assert store.watches.watch_topic("c1", "bat_1", limit=2, ttl_s=TTL) == "too_many"
    assert store.watches.watchers([ids[2], "bat_1"]) == []


def test_watchers_of_several_topics_and_watch_ttls_within_the_connections(backend: Backend) -> None:
    store = backend.store
    gid = owned_by(store, "ip:alice", "h1")
    connect(store, "c1", "ip:alice")
    connect(store, "c2", "ip:alice")
    store.watches.watch_generation("c1", gid, limit=20, ttl_s=TTL)
    assert store.watches.watch_topic("c2", "bat_1", limit=20, ttl_s=TTL) == "ok"
    assert store.watches.watchers([gid, "bat_1"]) == [Watcher("c1", gid), Watcher("c2", "bat_1")]
    assert store.watches.watchers([]) == []
    for key in (f"ws:watchers:{gid}", "ws:conn:c1:watches", "ws:watchers:bat_1"):
        assert 0 < int(backend.raw.command("TTL", backend.prefix + key)) <= TTL


def test_progress_is_recorded_only_for_the_attempt_that_runs(backend: Backend) -> None:
    store = backend.store
    gid = owned_by(store, "ip:alice", "h1")
    connect(store, "c1", "ip:alice")
    store.watches.watch_generation("c1", gid, limit=20, ttl_s=TTL)
    queued = store.generations.get(gid)
    assert queued is not None
    early = JobProgress("starting", since_ms=now_ms(), attempt=1)
    assert store.watches.progressed(queued, early) == [Watcher("c1", gid)]
    assert store.generations.get(gid) == queued  # not running yet: nothing recorded

    claimed = store.generations.claim(gid, now_ms(), 60_000)
    assert claimed is not None and claimed.attempts == 1
    generating = JobProgress("generating", since_ms=now_ms(), attempt=1, percent=42.5)
    assert store.watches.progressed(claimed, generating) == [Watcher("c1", gid)]
    stored = store.generations.get(gid)
    assert stored is not None and stored.progress == generating

    stale = JobProgress("storing", since_ms=now_ms(), attempt=0)
    store.watches.progressed(claimed, stale)
    again = store.generations.get(gid)
    assert again is not None and again.progress == generating  # a stale attempt changed nothing

    assert finish(store, gid, "h1")
    store.watches.progressed(claimed, JobProgress("storing", since_ms=now_ms(), attempt=1))
    ended = store.generations.get(gid)
    assert ended is not None and ended.status == "succeeded" and ended.progress == generating


def test_progress_of_a_batch_item_reaches_the_batchs_watchers(backend: Backend) -> None:
    store = backend.store
    gid = owned_by(store, "ip:alice", "h1")
    connect(store, "c1", "ip:alice")
    store.watches.watch_topic("c1", "bat_7", limit=20, ttl_s=TTL)
    item = store.generations.get(gid)
    assert item is not None
    in_batch = dataclasses.replace(item, batch="bat_7")
    assert store.watches.progressed(in_batch, JobProgress("starting", 1, 1)) == [Watcher("c1", "bat_7")]
    assert store.watches.progressed(item, JobProgress("starting", 1, 1)) == []


def test_a_follower_is_watched_through_its_leader_as_itself(backend: Backend) -> None:
    store = backend.store
    leader = owned_by(store, "ip:alice", "same")
    joined = admit(store, "ip:bob", "same")
    assert joined.outcome == "joined" and joined.generation is not None
    follower = joined.generation.id
    connect(store, "c2", "ip:bob")
    result = store.watches.watch_generation("c2", follower, limit=20, ttl_s=TTL)
    assert result.outcome == "ok" and result.generation is not None
    assert result.generation.id == follower and result.generation.leader == leader
    assert store.watches.watchers([leader]) == [Watcher("c2", follower)]


def test_forget_undoes_every_watch_and_connect_starts_afresh(backend: Backend) -> None:
    store = backend.store
    gid = owned_by(store, "ip:alice", "h1")
    connect(store, "c1", "ip:alice")
    connect(store, "c2", "ip:alice")
    for connection_id in ("c1", "c2"):
        store.watches.watch_generation(connection_id, gid, limit=20, ttl_s=TTL)
    store.watches.watch_topic("c1", "bat_1", limit=20, ttl_s=TTL)
    store.watches.forget("c1")
    assert store.watches.connection("c1") is None
    assert store.watches.watchers([gid, "bat_1"]) == [Watcher("c2", gid)]
    store.watches.forget("c1")  # twice: nothing left to undo, nothing raised

    connect(store, "c2", "ip:alice")  # an id connecting again has no watches from before
    assert store.watches.watchers([gid]) == []


def test_each_watch_registry_method_is_one_round_trip_on_upstash(redis_server: Any) -> None:
    prefix = f"ct{next(contract._ids)}-wrt:"
    with running_harness(redis_server.socket_file) as harness:
        from chalicelib.adapters.store.upstash import UpstashClient

        client = UpstashClient(harness.url, harness.token)
        store = RedisStateStore(client, prefix)
        gid = owned_by(store, "ip:alice", "h1")
        generation = store.generations.get(gid)
        assert generation is not None
        steps: list[tuple[str, Callable[[], object]]] = [
            ("connect", lambda: connect(store, "c1", "ip:alice")),
            ("connection", lambda: store.watches.connection("c1")),
            ("watch_generation", lambda: store.watches.watch_generation("c1", gid, limit=20, ttl_s=TTL)),
            ("watch_topic", lambda: store.watches.watch_topic("c1", "bat_1", limit=20, ttl_s=TTL)),
            ("watchers", lambda: store.watches.watchers([gid, "bat_1"])),
            ("progressed", lambda: store.watches.progressed(generation, JobProgress("starting", 1, 1))),
            ("forget", lambda: store.watches.forget("c1")),
        ]
        calls: dict[str, int] = {}
        for name, call in steps:
            call()  # a script's first call may load it: count the warm one
            harness.reset_counts()
            call()
            calls[name] = harness.total_calls
        client.close()
    assert all(n == 1 for n in calls.values()), calls


def test_a_user_connection_owns_what_its_user_key_owns(backend: Backend) -> None:
    store = backend.store
    gid = owned_by(store, "u:alice", "h1")
    store.watches.connect(Connection("c9", "user", "alice", "free"), TTL)
    assert store.watches.watch_generation("c9", gid, limit=20, ttl_s=TTL).outcome == "ok"
    store.watches.connect(Connection("c8", "anonymous", "alice", "anonymous"), TTL)  # "ip:alice"
    assert store.watches.watch_generation("c8", gid, limit=20, ttl_s=TTL).outcome == "not_found"


def test_the_finish_script_answers_who_watches_the_job_its_followers_and_its_batch(backend: Backend) -> None:
    store = backend.store
    leader = owned_by(store, "ip:alice", "same")
    joined = admit(store, "ip:bob", "same")
    assert joined.generation is not None
    follower = joined.generation.id
    connect(store, "c1", "ip:alice")
    connect(store, "c2", "ip:bob")
    assert store.watches.watch_generation("c1", leader, limit=20, ttl_s=TTL).outcome == "ok"
    assert store.watches.watch_generation("c2", follower, limit=20, ttl_s=TTL).outcome == "ok"
    assert store.watches.watch_topic("c1", "bat_7", limit=20, ttl_s=TTL) == "ok"
    record = store.generations.get(leader)
    assert record is not None
    ended = dataclasses.replace(record, batch="bat_7").ended(
        Success({"512": "gen/x-512.webp"}, "procedural"), "2030-01-01T00:00:05.000Z"
    )

    finished = store.generations.finish(Finish(ended))
    assert finished.ended and finished.followers == 1
    assert finished.watchers == (Watcher("c1", "bat_7"), Watcher("c1", leader), Watcher("c2", follower))
    # Ending it again ends nothing, and pushes nothing again.
    assert store.generations.finish(Finish(ended)).watchers == ()


def test_a_job_nobody_watches_ends_with_no_watchers(backend: Backend) -> None:
    gid = owned_by(backend.store, "ip:alice", "h1")
    record = backend.store.generations.get(gid)
    assert record is not None
    ended = record.ended(Failure("provider_unavailable", "down"), "2030-01-01T00:00:05.000Z")
    finished = backend.store.generations.finish(Finish(ended))
    assert finished.ended and finished.watchers == ()
