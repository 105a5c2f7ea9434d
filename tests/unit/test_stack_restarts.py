"""The stack's restart policy (``stack/restarts.py``) with fake processes and a fake clock: a part
that dies is started again after a growing backoff, a crash-looping one stops the stack."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from stack.restarts import LAMBDA, Crashing, RestartPolicy, Watcher


@dataclass
class FakeProcess:
    code: int | None = None

    def poll(self) -> int | None:
        return self.code


@dataclass
class FakePart:
    name: str
    process: FakeProcess | None = field(default_factory=FakeProcess)
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None
    restarts: int = 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watcher(clock: Clock, policy: RestartPolicy | None = None) -> tuple[Watcher[FakePart], list[str]]:
    started: list[str] = []

    def start(part: FakePart) -> None:
        part.process = FakeProcess()  # a new, running process
        started.append(part.name)

    return Watcher(policy or RestartPolicy(), clock, start, log=lambda line: None), started


def test_a_store_that_exits_is_started_again_after_the_backoff_and_the_others_keep_running() -> None:
    clock = Clock()
    w, started = watcher(clock, RestartPolicy(first_delay_s=0.5))
    store, worker = FakePart("redis-server"), FakePart("lane-free-1")
    parts = [store, worker]

    assert w.tick(parts) == [] and started == []  # nothing died
    assert store.process is not None
    store.process.code = -9  # kill -9
    w.tick(parts)
    assert started == [] and store.restart_at == pytest.approx(1000.5)
    clock.now += 0.4
    w.tick(parts)
    assert started == []  # still in its backoff
    clock.now += 0.2
    assert w.tick(parts) == [store]
    assert started == ["redis-server"] and store.restarts == 1 and store.restart_at is None
    assert worker.restarts == 0
    assert any("redis-server exited (-9)" in line for line in w.events)
    assert any("redis-server: starting it again (restart 1)" in line for line in w.events)


def test_the_backoff_doubles_with_each_recent_crash_up_to_its_ceiling() -> None:
    policy = RestartPolicy(max_restarts=10, window_s=60, first_delay_s=0.5, max_delay_s=3.0)
    assert policy.delay([100.0], 100.0) == 0.5
    assert policy.delay([100.0, 101.0], 101.0) == 1.0
    assert policy.delay([100.0, 101.0, 102.0], 102.0) == 2.0
    assert policy.delay([100.0, 101.0, 102.0, 103.0], 103.0) == 3.0  # the ceiling
    # Crashes older than the window are forgiven: a part that ran for a while starts over.
    assert policy.delay([10.0, 20.0, 30.0, 100.0], 100.0) == 0.5


def test_a_part_that_keeps_crashing_stops_the_stack_after_the_bounded_restarts() -> None:
    clock = Clock()
    w, started = watcher(clock, RestartPolicy(max_restarts=3, window_s=60, first_delay_s=0.1, max_delay_s=1))
    aws = FakePart("aws")
    for _ in range(3):
        assert aws.process is not None
        aws.process.code = 1
        w.tick([aws])
        clock.now += 1.0
        w.tick([aws])
    assert started == ["aws"] * 3
    assert aws.process is not None
    aws.process.code = 1
    with pytest.raises(Crashing, match="aws"):
        w.tick([aws])
    assert "giving up" in w.events[-1]


def test_crashes_spread_over_more_than_the_window_are_restarted_forever() -> None:
    clock = Clock()
    w, started = watcher(clock, RestartPolicy(max_restarts=2, window_s=10, first_delay_s=0.1))
    api = FakePart("api-1")
    for _ in range(6):
        assert api.process is not None
        api.process.code = -9
        w.tick([api])
        clock.now += 11.0  # longer than the window between crashes
        w.tick([api])
    assert started == ["api-1"] * 6
    assert len(api.crashes) == 1  # only the recent ones are kept


def test_a_stopped_process_is_not_a_dead_one() -> None:
    clock = Clock()
    w, started = watcher(clock)
    store = FakePart("redis-server")  # SIGSTOP: poll() still answers None
    for _ in range(50):
        clock.now += 1
        w.tick([store])
    assert started == [] and store.crashes == []


def test_lambda_containers_are_started_again_at_once_however_often_they_die() -> None:
    # A lane function past its timeout is ended as a matter of course: never a crash loop.
    clock = Clock()
    w, started = watcher(clock)
    w.policy_for = lambda part: LAMBDA if part.name.startswith(("api-", "lane-")) else w.policy
    lane, store = FakePart("lane-free-1"), FakePart("redis-server")
    for _ in range(20):
        assert lane.process is not None
        lane.process.code = -9
        w.tick([lane, store])
        w.tick([lane, store])  # no backoff: started again on the next look
    assert started == ["lane-free-1"] * 20
