"""WaitForGeneration: reading a job someone else runs again, at a growing gap, on the injected
clock, until it ends or the wait runs out."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.services.waiting import FIRST_LOOK_S, MAX_GAP_S
from tests.unit.services.wiring import USER, UseCases


def test_it_returns_as_soon_as_the_job_has_ended(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    looks: list[int] = []

    def someone_works() -> None:
        looks.append(1)
        if len(looks) == 3:
            use_cases.run_job.run(generation.id)

    use_cases.clock.on_sleep.append(someone_works)
    ended = use_cases.waiting.until_ended(generation, 10.0)
    assert ended.status == "succeeded"
    assert ended == use_cases.record(generation.id)
    assert use_cases.clock.slept == pytest.approx([FIRST_LOOK_S, FIRST_LOOK_S * 1.5, FIRST_LOOK_S * 2.25])


def test_it_gives_up_when_the_wait_runs_out_with_the_latest_state(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    use_cases.clock.on_sleep.append(
        lambda: use_cases.store.generations.claim(generation.id, use_cases.now_ms, 60_000)
    )
    latest = use_cases.waiting.until_ended(generation, 5.0)
    assert latest.status == "running"  # what the store says now, not what was passed in
    assert sum(use_cases.clock.slept) == pytest.approx(5.0)
    assert max(use_cases.clock.slept) <= MAX_GAP_S
    assert use_cases.clock.slept[-2] == pytest.approx(MAX_GAP_S)


def test_no_wait_no_look(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    assert use_cases.waiting.until_ended(generation, 0.0) == generation
    assert use_cases.clock.slept == []


def test_a_record_that_disappears_returns_what_was_known(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    ghost = dataclasses.replace(generation, id="gen_vanished")
    assert use_cases.waiting.until_ended(ghost, 5.0) == ghost
    assert use_cases.clock.slept == [pytest.approx(FIRST_LOOK_S)]
