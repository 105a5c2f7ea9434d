"""One state machine: the table of ``domain/generation_transitions.py`` driven through the store's
Lua scripts (``claim.lua``, ``release.lua``, ``finish.lua``, on every adapter: embedded Redis and
Upstash REST, the ``backend`` fixture of ``test_state_store``) and through the ``Generation``
entity, from the same records: each move ends in the table's state, or is refused, in all three,
and leaves the same record behind.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.generation import Failure, Generation, IllegalTransition, Success, iso
from chalicelib.domain.generation_transitions import (
    MOVES,
    STATES,
    TRANSITIONS,
    Move,
    State,
    Status,
    next_status,
    state_of,
)
from chalicelib.domain.progress import JobProgress
from chalicelib.domain.provider_job import ProviderJob, SubmitIntent
from chalicelib.ports import Finish
from tests.contract.test_state_store import Backend, backend, gen_id

__all__ = ["backend"]  # the parametrized fixture, shared with the main suite

NOW_MS = 1_900_000_000_000  # the moves' clock: the scripts take it as an argument, like the entity
LEASE_MS = 60_000
ENDED_AT = iso(NOW_MS / 1000)
OUTCOMES: dict[Move, Success | Failure] = {
    "end in success": Success({"128": "img/t_128.webp", "512": "img/t_512.webp"}, "fal"),
    "end in failure": Failure("provider_unavailable", "Every provider failed."),
}
ROWS = [(state, move) for state in STATES for move in MOVES]


def test_the_table_says_where_every_move_leads_from_every_state() -> None:
    assert set(TRANSITIONS) == set(STATES)
    for state in STATES:
        assert set(TRANSITIONS[state]) == set(MOVES), state
    # What the entity's docstring draws: only an open generation moves, and only a running one
    # is released; a claim runs it, an end ends it.
    for state, move in ROWS:
        after = next_status(state, move)
        if state in ("succeeded", "failed") or (move == "release" and state == "queued"):
            assert after is None, (state, move)
        elif move == "claim" and state == "running":
            assert after is None  # a live lease is only taken over by force
        else:
            assert after is not None, (state, move)


def record_in(state: State, charge_key: str) -> Generation:
    """A generation in ``state`` at ``NOW_MS``, with everything a move touches set."""
    base = Generation(
        id=gen_id(),
        owner="u:transitions",
        style="anime",
        prompt="a fox in a scarf",
        variation=0,
        size=512,
        quality="fast",
        lane="free",
        tier="free",
        created_at=iso(NOW_MS / 1000 - 10),
        request_hash="tr" + gen_id()[4:],
        charged=(charge_key,),
    )
    running = dataclasses.replace(
        base,
        status="running",
        attempts=1,
        lease_until_ms=NOW_MS + 30_000,
        provider_job=ProviderJob("fal", "req-1", submitted_ms=NOW_MS - 5_000),
        submit_intent=SubmitIntent(NOW_MS - 6_000, "ab" * 32),
        progress=JobProgress("generating", NOW_MS - 4_000, attempt=1),
    )
    if state == "queued":
        return base
    if state == "running":
        return running
    if state == "running, lease run out":
        return dataclasses.replace(running, lease_until_ms=NOW_MS - 1)
    if state == "succeeded":
        return dataclasses.replace(
            base,
            status="succeeded",
            attempts=1,
            images={"512": "img/old.webp"},
            provider="fal",
            completed_at=iso(NOW_MS / 1000 - 1),
        )
    return dataclasses.replace(
        base,
        status="failed",
        attempts=1,
        error=Failure("timeout", "Too slow."),
        completed_at=iso(NOW_MS / 1000 - 1),
        charged=(),
        refunded=True,
    )


def machine_fields(generation: Generation) -> dict[str, Any]:
    """What the state machine's moves write: the rest of the record is the request's."""
    return {
        "status": generation.status,
        "attempts": generation.attempts,
        "lease_until_ms": generation.lease_until_ms,
        "provider_job": generation.provider_job,
        "submit_intent": generation.submit_intent,
        "progress": generation.progress,
        "charged": generation.charged,
        "refunded": generation.refunded,
        "images": dict(generation.images) if generation.images else None,
        "provider": generation.provider,
        "error": generation.error,
        "completed_at": generation.completed_at,
    }


def entity_move(generation: Generation, move: Move) -> Generation | None:
    """The entity's move; ``None`` when it refuses it."""
    try:
        if move in ("claim", "forced claim"):
            return generation.claimed(NOW_MS, LEASE_MS, force=move == "forced claim")
        if move == "release":
            return generation.released()
        return generation.ended(OUTCOMES[move], ENDED_AT)
    except IllegalTransition:
        return None


def as_ended(generation: Generation, move: Move) -> Generation:
    """What a worker hands ``finish``: the job as it says it ended (built here, not by the entity,
    so that the store is judged on its own)."""
    outcome = OUTCOMES[move]
    if isinstance(outcome, Success):
        return dataclasses.replace(
            generation,
            status="succeeded",
            images=dict(outcome.images),
            provider=outcome.provider,
            completed_at=ENDED_AT,
            lease_until_ms=0,
        )
    return dataclasses.replace(
        generation, status="failed", error=outcome, completed_at=ENDED_AT, lease_until_ms=0
    )


def store_move(store: RedisStateStore, generation: Generation, move: Move) -> Generation | None:
    """The Lua script's move on the stored record; ``None`` when it refuses it."""
    generations = store.generations
    if move in ("claim", "forced claim"):
        return generations.claim(generation.id, NOW_MS, LEASE_MS, force=move == "forced claim")
    if move == "release":
        return generations.get(generation.id) if generations.release(generation.id) else None
    finished = generations.finish(Finish(as_ended(generation, move)))
    return generations.get(generation.id) if finished.ended else None


@pytest.mark.parametrize(("state", "move"), ROWS, ids=[f"{s}-{m}" for s, m in ROWS])
def test_the_entity_makes_the_tables_moves(state: State, move: Move) -> None:
    before = record_in(state, "q:u:transitions:hour")
    assert state_of(before.status, before.lease_until_ms, NOW_MS) == state
    after = entity_move(before, move)
    expected = next_status(state, move)
    assert (after.status if after else None) == expected


def test_the_stores_scripts_make_the_tables_moves_and_agree_with_the_entity(backend: Backend) -> None:
    """Every row on one adapter (one Upstash harness for the 25, not one each)."""
    disagreements: list[str] = []
    for (state, move), n in zip(ROWS, itertools.count(), strict=False):
        before = record_in(state, f"{backend.prefix}q:u:transitions:{n}:hour")
        backend.raw.command(
            "HSET",
            backend.store.keyspace.generation(before.id),
            *itertools.chain(*before.to_fields().items()),
        )
        expected: Status | None = next_status(state, move)
        by_entity = entity_move(before, move)
        by_store = store_move(backend.store, before, move)
        stored_after = backend.store.generations.get(before.id)
        assert stored_after is not None
        if (by_store.status if by_store else None) != expected:
            disagreements.append(
                f"{state} --{move}--> store: {by_store and by_store.status}, table: {expected}"
            )
        if by_entity is None or by_store is None:
            # A refused move changes nothing.
            if by_store is None and machine_fields(stored_after) != machine_fields(before):
                disagreements.append(f"{state} --{move}--> refused by the store, yet the record changed")
            if (by_entity is None) != (by_store is None):
                disagreements.append(f"{state} --{move}--> entity: {by_entity and by_entity.status}")
            continue
        if machine_fields(stored_after) != machine_fields(by_entity):
            diff = {
                name: (value, machine_fields(by_entity)[name])
                for name, value in machine_fields(stored_after).items()
                if value != machine_fields(by_entity)[name]
            }
            disagreements.append(f"{state} --{move}--> store (left) and entity (right) differ: {diff}")
    assert disagreements == []
