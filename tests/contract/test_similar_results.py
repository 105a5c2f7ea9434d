"""Cached results of similar requests (admit.lua reads the index finish.lua fills), on every
adapter: the embedded Redis and the Upstash adapter through the REST harness."""

from __future__ import annotations

import dataclasses
from typing import Any

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.replies import hash_reply
from chalicelib.domain.experiment import Arm
from chalicelib.domain.generation import Success
from chalicelib.domain.similarity import owner_tag, prompt_tokens, similarity
from chalicelib.ports import AdmitRequest, AdmitResult, Finish
from tests.contract import test_state_store as contract
from tests.contract.test_state_store import Backend, Windows, created_id, gen_id, new_generation, now_ms

store_backend = contract.backend  # every test runs on each adapter

FOX = {"128": "gen/fox-128.webp", "256": "gen/fox-256.webp", "512": "gen/fox-512.webp"}


def admit(
    store: RedisStateStore,
    ident: str,
    req_hash: str,
    prompt: str,
    *,
    size: int = 512,
    quality: str = "fast",
    accept: bool = False,
    arm: Arm | None = None,
) -> AdmitResult:
    at = now_ms()
    generation = dataclasses.replace(
        new_generation(gen_id(), ident, req_hash), prompt=prompt, size=size, quality=quality, arm=arm
    )
    return store.generations.admit(
        AdmitRequest(
            generation=generation,
            windows=Windows(ident).charges(at),
            rate_key=f"rl:{ident}",
            rate_limit=120,
            rate_reset_at=at // 1000 + 60,
            now_ms=at,
            deadline_ms=at + 900_000,
            accept_similar=accept,
        )
    )


def made(
    store: RedisStateStore,
    req_hash: str,
    prompt: str,
    second: int = 5,
    *,
    owner: str = "maker",
    arm: Arm | None = None,
) -> None:
    """A job for ``prompt`` admitted and finished (at ``second``): its result is cached and indexed."""
    result = admit(store, owner, req_hash, prompt, arm=arm)
    assert result.generation is not None
    ended = result.generation.ended(Success(FOX, "procedural"), f"2030-01-01T00:00:{second:02d}.000Z")
    assert store.generations.finish(Finish(ended)).ended


def test_a_similar_prompt_is_offered_the_cached_result_and_still_created(store_backend: Backend) -> None:
    store = store_backend.store
    made(store, "fox1", "A red fox with glasses")
    made(store, "owl1", "an owl in the snow")

    result = admit(store, "u1", "fox2", "red fox, glasses and a hat")
    created_id(result)  # still generates what was asked (and is charged for it)
    assert store.counters.quota_counts(["q:u1:hour"]) == [1]
    # Made for "maker", not for u1: no prompt (another user's words never leave the store).
    assert [(s.request_hash, s.prompt, dict(s.images)) for s in result.similar] == [("fox1", None, FOX)]
    expected = similarity(
        prompt_tokens("red fox, glasses and a hat"), prompt_tokens("A red fox with glasses")
    )
    assert result.similar[0].score == round(expected, 4) == 0.75


def test_accept_similar_serves_a_close_match_at_once_uncharged(store_backend: Backend) -> None:
    store = store_backend.store
    made(store, "fox1", "A red fox with glasses")

    served = admit(store, "u1", "fox3", "red fox wearing glasses", accept=True)
    assert served.outcome == "cached"
    assert served.generation is not None
    assert served.generation.status == "succeeded" and served.generation.cached
    assert dict(served.generation.images or {}) == FOX
    assert served.generation.prompt == "red fox wearing glasses"  # the record keeps what was asked
    assert store.counters.quota_counts(["q:u1:hour", "q:u1:day"]) == [0, 0]  # not charged
    assert store.generations.get(served.generation.id) == served.generation

    # Not close enough to serve (0.67 < the accept threshold): created, the match only offered.
    farther = admit(store, "u2", "fox4", "a fox with glasses", accept=True)
    created_id(farther)
    assert [s.request_hash for s in farther.similar] == ["fox1"]


def test_only_the_same_size_and_quality_match_and_at_most_three_best_first(store_backend: Backend) -> None:
    store = store_backend.store
    for i, prompt in enumerate(["cat hat red blue", "cat", "cat hat", "cat hat red", "dog"]):
        made(store, f"c{i}", prompt, second=10 + i)

    other_size = admit(store, "u1", "q1", "cat hat", size=1024)
    assert other_size.similar == ()
    other_quality = admit(store, "u1", "q2", "cat hat", quality="standard")
    assert other_quality.similar == ()

    found = admit(store, "u1", "q3", "cat hat")  # of two equally close (c0, c1), the newer
    assert [(s.request_hash, s.score) for s in found.similar] == [("c2", 1.0), ("c3", 0.6667), ("c1", 0.5)]


def test_an_erased_result_leaves_the_index(store_backend: Backend) -> None:
    store, raw, prefix = store_backend.store, store_backend.raw, store_backend.prefix
    made(store, "fox1", "A red fox with glasses", owner="fox-maker")
    made(store, "fox-dev", "A red fox with glasses", owner="fox-maker", arm="dev")  # FLUX dev's own index
    made(store, "owl1", "an owl in the snow")
    order, words = f"{prefix}sim:anime:fast", f"{prefix}simw:anime:fast"
    assert raw.command("ZCARD", order) == 2 and raw.command("HLEN", words) == 2
    assert raw.command("HLEN", f"{prefix}simw:anime:fast+dev") == 1

    # Erasing a user's data: in the same call, their result out of the index (its words); their
    # cache entry (its prompt) is deleted by the eraser by the hash in the reply.
    erased = store.generations.erase("fox-maker", 100)
    assert erased.erased == 2 and set(erased.request_hashes) == {"fox1", "fox-dev"}
    assert raw.command("ZCARD", order) == 1 and raw.command("HLEN", words) == 1
    assert raw.command("EXISTS", f"{prefix}sim:anime:fast+dev", f"{prefix}simw:anime:fast+dev") == 0
    assert "fox" not in str(raw.command("HGETALL", words))
    assert admit(store, "u1", "fox2", "red fox with glasses").similar == ()

    # A cache entry gone without its index entry (expired, or deleted alone) is pruned on sight.
    raw.command("DEL", f"{prefix}cache:owl1")
    result = admit(store, "u1", "owl2", "an owl in snow", accept=True)
    created_id(result)
    assert result.similar == ()
    assert raw.command("ZCARD", order) == 0 and raw.command("HLEN", words) == 0


def test_the_index_keeps_the_newest_entries_only(store_backend: Backend, monkeypatch: Any) -> None:
    from chalicelib.adapters.store import generations

    monkeypatch.setattr(generations, "INDEX_SIZE", 3)
    store, raw, prefix = store_backend.store, store_backend.raw, store_backend.prefix
    for i in range(5):
        made(store, f"cat{i}", f"cat number {i}", second=10 + i)
    assert raw.command("ZRANGE", f"{prefix}sim:anime:fast", 0, -1) in (
        ["cat2", "cat3", "cat4"],
        [b"cat2", b"cat3", b"cat4"],
    )
    assert raw.command("HLEN", f"{prefix}simw:anime:fast") == 3


def test_the_prompt_of_a_similar_result_goes_to_its_maker_only(store_backend: Backend) -> None:
    store, raw, prefix = store_backend.store, store_backend.raw, store_backend.prefix
    made(store, "fox1", "Ann Lee of 5 Oak Street, red fox", owner="u:ann")
    made(store, "fox2", "", owner="u:ann")  # the style alone: an empty prompt is still her own

    own = admit(store, "u:ann", "fox3", "Ann Lee of 5 Oak Street, red fox, hat")
    assert [(s.request_hash, s.prompt) for s in own.similar] == [("fox1", "Ann Lee of 5 Oak Street, red fox")]
    blank = admit(store, "u:ann", "fox4", "")
    assert [(s.request_hash, s.prompt) for s in blank.similar] == [("fox2", "")]
    for stranger in ("u:bob", "k:ann", "ip:ann"):  # another identity, whatever its name
        other = admit(store, stranger, f"fox-{stranger}", "Ann Lee of 5 Oak Street, red fox, hat")
        assert [(s.request_hash, s.prompt) for s in other.similar] == [("fox1", None)]
    # The cache entry keeps a hash of its maker, not the identity.
    entry = hash_reply(raw.command("HGETALL", f"{prefix}cache:fox1"))
    assert entry["prompt"] == "Ann Lee of 5 Oak Street, red fox"
    assert entry["owner"] == owner_tag("u:ann") and "ann" not in entry["owner"]
