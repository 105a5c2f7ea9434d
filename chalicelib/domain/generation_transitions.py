"""A generation's state machine as one table: for each state and each move, the state it leads to,
or ``None`` where the move is refused.

Two implementations make these moves, and both follow this table:

- the :class:`~chalicelib.domain.generation.Generation` entity (``claimed``, ``released``,
  ``ended``), which looks its moves up here;
- the store's Lua scripts, which make the same moves atomically in one round trip each
  (``claim.lua``, ``release.lua``, ``finish.lua``): Lua cannot import Python, so
  ``tests/contract/test_generation_transitions.py`` drives every row through both store adapters
  (embedded Redis and Upstash REST) and through the entity, and asserts that all three agree.

A running generation holds a lease (``lease_until_ms``): while it lasts only a forced claim
(restart recovery, the reaper) takes the job over; once it has run out, its worker is taken for
dead and any claim does.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["queued", "running", "succeeded", "failed"]

# The states a move is judged from: a running generation's lease is part of its state.
State = Literal["queued", "running", "running, lease run out", "succeeded", "failed"]
STATES: tuple[State, ...] = ("queued", "running", "running, lease run out", "succeeded", "failed")

Move = Literal["claim", "forced claim", "release", "end in success", "end in failure"]
MOVES: tuple[Move, ...] = ("claim", "forced claim", "release", "end in success", "end in failure")

_ENDED: dict[Move, Status | None] = dict.fromkeys(MOVES, None)  # an ended generation never moves

TRANSITIONS: dict[State, dict[Move, Status | None]] = {
    "queued": {
        "claim": "running",
        "forced claim": "running",
        "release": None,  # nothing runs it: nothing to give back
        "end in success": "succeeded",  # a follower ending with its leader
        "end in failure": "failed",  # a job failed before it ran (budget, reaper)
    },
    "running": {
        "claim": None,  # held by a live worker
        "forced claim": "running",
        "release": "queued",  # an attempt failed and will be retried
        "end in success": "succeeded",
        "end in failure": "failed",
    },
    "running, lease run out": {
        "claim": "running",  # its worker died: taken over
        "forced claim": "running",
        "release": "queued",
        "end in success": "succeeded",
        "end in failure": "failed",
    },
    "succeeded": dict(_ENDED),
    "failed": dict(_ENDED),
}


def state_of(status: Status, lease_until_ms: int, now_ms: int) -> State:
    """The state a move is judged from, at ``now_ms``."""
    if status == "running" and lease_until_ms <= now_ms:
        return "running, lease run out"
    return status


def next_status(state: State, move: Move) -> Status | None:
    """Where ``move`` leads from ``state``; ``None``: the move is refused."""
    return TRANSITIONS[state][move]
