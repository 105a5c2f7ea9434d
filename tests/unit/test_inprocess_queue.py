"""The embedded lanes: premium before free before batch, first in first out within a lane."""

from __future__ import annotations

import threading

from chalicelib.adapters.queue.inprocess import InProcessQueue


def test_premium_before_free_before_batch() -> None:
    queue = InProcessQueue(lambda _job: None, autostart=False)
    queue.enqueue("b1", "batch")
    queue.enqueue("f1", "free")
    queue.enqueue("p1", "premium")
    queue.enqueue("f2", "free")
    queue.enqueue("p2", "premium")
    assert queue.depth("free") == 2
    order = [queue.take(timeout=0) for _ in range(5)]
    assert order == ["p1", "p2", "f1", "f2", "b1"]
    assert queue.take(timeout=0) is None


def test_a_job_waiting_twice_is_queued_once() -> None:
    queue = InProcessQueue(lambda _job: None, autostart=False)
    queue.enqueue("j", "free")
    queue.enqueue("j", "free")
    assert queue.depth("free") == 1


def test_workers_run_jobs_and_survive_a_crashing_one() -> None:
    done: list[str] = []
    finished = threading.Event()

    def handler(job: str) -> None:
        if job == "boom":
            raise RuntimeError("job crashed")
        done.append(job)
        if len(done) == 2:
            finished.set()

    queue = InProcessQueue(handler, threads=1)
    for job in ("boom", "a", "b"):
        queue.enqueue(job, "free")
    assert finished.wait(5)
    assert done == ["a", "b"]
