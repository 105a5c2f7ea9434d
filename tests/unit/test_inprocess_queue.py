"""The embedded lanes: callbacks first, then premium before free before batch, FIFO within a lane."""

from __future__ import annotations

import threading

from chalicelib.adapters.queue.inprocess import InProcessQueue
from chalicelib.ports import MessageKind


def test_premium_before_free_before_batch() -> None:
    queue = InProcessQueue()
    queue.enqueue("b1", "batch")
    queue.enqueue("f1", "free")
    queue.enqueue("p1", "premium")
    queue.enqueue("f2", "free")
    queue.enqueue("p2", "premium")
    assert queue.depth("free") == 2
    order = [queue.take(timeout=0) for _ in range(5)]
    assert [m[0] for m in order if m is not None] == ["p1", "p2", "f1", "f2", "b1"]
    assert queue.take(timeout=0) is None


def test_a_callback_goes_before_every_job_and_is_no_job_in_the_depth() -> None:
    queue = InProcessQueue()
    queue.enqueue("p1", "premium")
    queue.enqueue("c1", "batch", "callback")
    assert queue.depth("batch") == 0
    assert queue.take(timeout=0) == ("c1", "callback")
    assert queue.take(timeout=0) == ("p1", "job")


def test_a_job_waiting_twice_is_queued_once() -> None:
    queue = InProcessQueue()
    queue.enqueue("j", "free")
    queue.enqueue("j", "free")
    assert queue.depth("free") == 1


def test_workers_run_jobs_and_survive_a_crashing_one() -> None:
    done: list[str] = []
    finished = threading.Event()

    def handler(job: str, kind: MessageKind) -> None:
        if job == "boom":
            raise RuntimeError("job crashed")
        done.append(job)
        if len(done) == 2:
            finished.set()

    queue = InProcessQueue(threads=1)
    queue.serve(handler)
    for job in ("boom", "a", "b"):
        queue.enqueue(job, "free")
    assert finished.wait(5)
    assert done == ["a", "b"]
    assert queue.wait_idle(5)


def test_nothing_runs_until_the_workers_start() -> None:
    ran: list[str] = []
    queue = InProcessQueue(threads=1)
    queue.serve(lambda job, kind: ran.append(job), start=False)
    queue.enqueue("j", "free")
    assert not queue.wait_idle(0.05)
    assert ran == []
    queue.start()
    assert queue.wait_idle(5)
    assert ran == ["j"]
