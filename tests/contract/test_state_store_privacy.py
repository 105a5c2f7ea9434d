"""The state store contract, privacy part: counters added outside the scripts, erasure of an
identity's data, the admin audit log.

Run on every adapter (the ``backend`` fixture of ``test_state_store``: embedded and Upstash).
"""

from __future__ import annotations

import itertools
from typing import Any

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.generation import Failure, Success
from chalicelib.ports import Counter, Erased, Finish, Finished
from tests.conftest import make_settings
from tests.contract.test_state_store import Backend, admit, backend, created_id, new_generation, now_ms

__all__ = ["backend"]  # the parametrized fixture, shared with the main suite


def test_counters_add_amounts_with_their_ttl_in_one_call(backend: Backend) -> None:
    counters = backend.store.counters
    counters.add([])
    counters.add([Counter("c:one", 1, 60), Counter("c:half", 0.5, 120)])
    counters.add([Counter("c:one", 2, 60)])
    assert counters.values(["c:one", "c:half", "c:none"]) == [3.0, 0.5, 0.0]
    assert 0 < int(backend.raw.command("TTL", f"{backend.prefix}c:half")) <= 120


# -- erasure ----------------------------------------------------------------------------------


def finish_with(backend: Backend, gid: str, owner: str, req_hash: str, images: dict[str, str]) -> Finished:
    ended = new_generation(gid, owner, req_hash).ended(
        Success(images, "procedural"), "2030-01-01T00:00:05.000Z"
    )
    return backend.store.generations.finish(Finish(ended))


def erase_all(backend: Backend, owner: str, chunk: int = 2) -> Erased:
    """Erase in chunks as the use case does; the union of what the calls returned."""
    total = Erased(0, 0)
    for _ in range(50):
        part = backend.store.generations.erase(owner, chunk)
        total = Erased(
            total.erased + part.erased,
            part.left,
            total.request_hashes + part.request_hashes,
            total.batches + part.batches,
            total.orphans + part.orphans,
        )
        if part.left == 0:
            return total
    raise AssertionError("erasure did not end")


def raw(backend: Backend, *args: Any) -> Any:
    return backend.raw.command(*args)


def test_erase_takes_the_identity_and_nothing_of_anyone_else(backend: Backend) -> None:
    store, p = backend.store, backend.prefix
    shared = {"128": "img/shared-128.webp", "512": "img/shared-512.webp"}
    own = {"512": "img/own-512.webp"}
    clock = itertools.count(now_ms(), 10)  # one admission after another: the history's order is theirs
    # u1's first result, served from the cache to u2 as well.
    first = created_id(admit(store, "u1", "h-shared", idem="key-1", at=next(clock)))
    assert finish_with(backend, first, "u1", "h-shared", shared).ended
    hit = admit(store, "u2", "h-shared", at=next(clock))
    assert hit.outcome == "cached" and hit.generation is not None
    # u1's own unshared result.
    second = created_id(admit(store, "u1", "h-own", at=next(clock)))
    assert finish_with(backend, second, "u1", "h-own", own).ended
    # u1's job in flight, which u2 joined; and u2's job in flight, which u1 joined.
    running = created_id(admit(store, "u1", "h-run", at=next(clock)))
    u2_follower = admit(store, "u2", "h-run", at=next(clock))
    assert u2_follower.outcome == "joined" and u2_follower.generation is not None
    u2_job = created_id(admit(store, "u2", "h-u2", at=next(clock)))
    joined = admit(store, "u1", "h-u2", at=next(clock))
    assert joined.outcome == "joined" and joined.generation is not None
    charged_before = store.counters.quota_counts(["q:u1:hour"])[0]
    assert len(raw(backend, "KEYS", f"{p}idem:u1:*")) == 1

    erased = erase_all(backend, "u1")

    assert erased.erased == 4 and erased.left == 0
    assert set(erased.request_hashes) == {"h-shared", "h-own", "h-run", "h-u2"}
    assert sorted(erased.orphans) == ["img/own-512.webp"]  # the shared images are u2's too
    for gone in (first, second, joined.generation.id):
        assert store.generations.get(gone) is None
    assert store.generations.history("u1", 10, None) == ([], None)
    assert list(raw(backend, "KEYS", f"{p}idem:u1:*")) == []
    tombstone = store.generations.get(running)
    assert tombstone is not None and tombstone.owner == "" and tombstone.unknown.get("erased") == "1"
    assert tombstone.is_open  # its worker can still end it
    assert raw(backend, "LRANGE", f"{p}followers:h-u2", 0, -1) == []  # u1 left u2's job
    # Nothing of u2's was touched.
    u2_hit = store.generations.get(hit.generation.id)
    assert u2_hit is not None and u2_hit.images == shared
    assert [g.id for g in store.generations.history("u2", 10, None)[0]] == [
        u2_job,
        u2_follower.generation.id,
        hit.generation.id,
    ]

    # The cache entries go in a call of their own (the use case's one place for them).
    assert raw(backend, "EXISTS", f"{p}cache:h-shared") == 1
    store.generations.forget_results(erased.request_hashes)
    assert raw(backend, "EXISTS", f"{p}cache:h-shared") == 0

    # u1's running job ends into nothing: refunded, no cache entry, record gone; u2's follower
    # gets the result and holds its image.
    done = finish_with(backend, running, "u1", "h-run", {"512": "img/run-512.webp"})
    assert done.erased and not done.ended and done.followers == 1
    assert store.generations.get(running) is None
    assert raw(backend, "EXISTS", f"{p}cache:h-run") == 0
    assert store.counters.quota_counts(["q:u1:hour"])[0] == charged_before - 1
    follower = store.generations.get(u2_follower.generation.id)
    assert follower is not None and follower.status == "succeeded"
    assert store.holders.unheld(["img/run-512.webp", "img/nobody.webp"]) == ["img/nobody.webp"]

    # Erasing again erases nothing more.
    assert store.generations.erase("u1", 10) == Erased(0, 0)


def test_an_erased_running_job_that_fails_is_refunded_and_gone(backend: Backend) -> None:
    store = backend.store
    running = created_id(admit(store, "u1", "h-fail"))
    assert store.counters.quota_counts(["q:u1:hour"]) == [1]
    assert store.generations.erase("u1", 10).erased == 1
    ended = new_generation(running, "u1", "h-fail").ended(
        Failure("provider_unavailable", "down"), "2030-01-01T00:00:05.000Z"
    )
    done = store.generations.finish(Finish(ended))
    assert done.erased and done.followers == 0
    assert store.generations.get(running) is None
    assert store.counters.quota_counts(["q:u1:hour"]) == [0]


def test_holders_hold_release_and_report_the_unheld(backend: Backend) -> None:
    holders = backend.store.holders
    holders.hold(["pinned/a.webp", "pinned/b.webp"], "avatar:u:1")
    holders.hold(["pinned/a.webp"], "avatar:u:2")
    assert holders.unheld(["pinned/a.webp", "pinned/b.webp", "pinned/c.webp"]) == ["pinned/c.webp"]
    assert holders.release(["pinned/a.webp", "pinned/b.webp"], "avatar:u:1") == ["pinned/b.webp"]
    # Only the call that removed the last holder names an image; never one it did not hold.
    assert holders.release(["pinned/b.webp", "pinned/c.webp"], "avatar:u:1") == []
    assert holders.release(["pinned/a.webp"], "avatar:u:2") == ["pinned/a.webp"]
    assert holders.release([], "avatar:u:2") == []


# -- the admin audit trail --------------------------------------------------------------------


def test_the_audit_log_numbers_keeps_the_newest_and_pages_back(backend: Backend) -> None:
    log = backend.store.audit
    assert log.page(10, None) == []
    seqs = [log.append(f'{{"seq":0,"n":{n}}}', keep=3) for n in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert log.page(10, None) == ['{"seq":5,"n":4}', '{"seq":4,"n":3}', '{"seq":3,"n":2}']
    assert log.page(2, None) == ['{"seq":5,"n":4}', '{"seq":4,"n":3}']
    assert log.page(2, 4) == ['{"seq":3,"n":2}']
    assert log.page(2, 3) == []


# -- retention --------------------------------------------------------------------------------


def test_records_and_their_index_live_as_long_as_the_retention(redis_server: Any, tmp_path: Any) -> None:
    """The retention setting reaches the store (``build_store``) and every record it writes."""
    from chalicelib.bootstrap import build_store
    from tests.upstash_harness import running_harness

    with running_harness(redis_server.socket_file) as harness:
        settings = make_settings(
            tmp_path,
            upstash_url=harness.url,
            upstash_token=harness.token,
            key_prefix="ct-ret:",
            retention_days=3,
        )
        store = build_store(settings)
        assert isinstance(store, RedisStateStore)
        gid = created_id(admit(store, "u-ret", "h-ret"))
        hit_hash = "h-ret"
        assert store.generations.finish(
            Finish(
                new_generation(gid, "u-ret", hit_hash).ended(
                    Success({"512": "img/ret.webp"}, "p"), "2030-01-01T00:00:05.000Z"
                )
            )
        ).ended
        for key in (f"gen:{gid}", "hist:u-ret", "holders:img/ret.webp"):
            ttl = int(store.keyspace.client.command("TTL", f"ct-ret:{key}"))
            assert 3 * 86400 - 60 < ttl <= 3 * 86400, key


def test_every_follower_holds_the_images_even_past_the_first_chunk(backend: Backend) -> None:
    from chalicelib.adapters.store.generations import FOLLOWER_CHUNK

    store = backend.store
    leader = created_id(admit(store, "lead", "h-crowd"))
    followers = []
    for n in range(FOLLOWER_CHUNK + 2):
        joined = admit(store, f"f{n}", "h-crowd")
        assert joined.outcome == "joined" and joined.generation is not None
        followers.append(joined.generation.id)
    done = finish_with(backend, leader, "lead", "h-crowd", {"512": "img/crowd.webp"})
    assert (done.followers, done.pending) == (FOLLOWER_CHUNK, 2)
    assert store.generations.finish_followers(leader)[:2] == (2, 0)
    members = {str(m) for m in raw(backend, "SMEMBERS", f"{backend.prefix}holders:img/crowd.webp")}
    assert members == {leader, *followers}
