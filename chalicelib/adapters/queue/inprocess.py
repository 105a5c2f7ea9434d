"""The embedded job queue: worker threads that serve enterprise before premium before free
before batch, and reserved threads that serve one lane only (enterprise by default).

Client callbacks go before every job: they are quick, and a client is waiting for them. A
reserved thread is what a lane's reserved concurrency is on SQS: however many premium jobs fill the
shared threads, an enterprise job starts as soon as it is queued.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Mapping

from chalicelib.domain.tiers import LANES
from chalicelib.ports import MessageKind

log = logging.getLogger(__name__)

LANE_PRIORITY = {lane: rank for rank, lane in enumerate(LANES)}
CALLBACK_PRIORITY = -1
Consumer = Callable[[str, MessageKind], object]


class InProcessQueue:
    """:class:`chalicelib.ports.JobQueue` served by daemon threads in this process.

    Jobs are also recorded as open in the state store when they are admitted, so a restart
    finds them there and queues them again (``services/generation/reap.py``, ``recover_open_jobs``).
    """

    durable = False  # messages live in this process only

    def __init__(self, threads: int = 2, *, reserved: Mapping[str, int] | None = None) -> None:
        self._heap: list[tuple[int, int, str, MessageKind, str]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._queued: dict[tuple[str, MessageKind], tuple[int, int]] = {}  # -> (rank, seq) in the heap
        self._busy = 0
        self._threads = max(1, threads)
        self._reserved = {lane: n for lane, n in (reserved or {}).items() if n > 0}
        self._consumer: Consumer | None = None
        self._started = False

    def serve(self, consumer: Consumer, *, start: bool = True) -> None:
        """Hand every message to ``consumer`` (the lane worker), from ``threads`` daemon threads
        started now (or with :meth:`start`, when ``start`` is False)."""
        self._consumer = consumer
        if start:
            self.start()

    def start(self) -> None:
        with self._cond:
            if self._started or self._consumer is None:
                return
            self._started = True
        for n in range(self._threads):
            threading.Thread(target=self._serve, name=f"avatarflow-worker-{n}", daemon=True).start()
        for lane, count in self._reserved.items():
            for n in range(count):
                threading.Thread(
                    target=self._serve, args=(lane,), name=f"avatarflow-worker-{lane}-{n}", daemon=True
                ).start()

    def enqueue(self, generation_id: str, lane: str, kind: MessageKind = "job") -> None:
        rank = CALLBACK_PRIORITY if kind == "callback" else LANE_PRIORITY.get(lane, len(LANES))
        with self._cond:
            if (generation_id, kind) in self._queued:
                return  # already waiting: a second copy would only find the work done
            seq = next(self._seq)
            self._queued[(generation_id, kind)] = (rank, seq)
            heapq.heappush(self._heap, (rank, seq, generation_id, kind, lane))
            self._cond.notify_all()

    def depth(self, lane: str) -> int:
        rank = LANE_PRIORITY.get(lane, len(LANES))
        with self._cond:
            return sum(1 for item in self._heap if item[0] == rank)

    def position(self, generation_id: str, lane: str) -> int | None:
        """1 + the jobs served before this one (every lane ahead of it counts); None if not queued."""
        with self._cond:
            mine = next((item for item in self._heap if item[2] == generation_id and item[3] == "job"), None)
            if mine is None:
                return None
            return 1 + sum(1 for item in self._heap if item[3] == "job" and item[:2] < mine[:2])

    def take(
        self, timeout: float | None = None, *, lane: str | None = None
    ) -> tuple[str, MessageKind] | None:
        """The next message by priority (of ``lane`` only, if given), or None after ``timeout``
        seconds with nothing queued."""
        with self._cond:
            if lane is None:
                if not self._cond.wait_for(lambda: bool(self._heap), timeout=timeout):
                    return None
                _, _, generation_id, kind, _ = heapq.heappop(self._heap)
            else:
                if not self._cond.wait_for(lambda: self._first_of(lane) is not None, timeout=timeout):
                    return None
                item = self._first_of(lane)
                assert item is not None  # noqa: S101 - the wait just saw it
                self._heap.remove(item)
                heapq.heapify(self._heap)
                _, _, generation_id, kind, _ = item
            self._queued.pop((generation_id, kind), None)
            self._busy += 1
            return generation_id, kind

    def _first_of(self, lane: str) -> tuple[int, int, str, MessageKind, str] | None:
        """The first message of ``lane`` by priority (a reserved thread's next), under the lock."""
        return min((item for item in self._heap if item[4] == lane), default=None)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being handled (tests, shutdown); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._heap and not self._busy, timeout=timeout)

    def _done(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def _serve(self, lane: str | None = None) -> None:
        consumer = self._consumer
        assert consumer is not None  # noqa: S101 - start() needs one
        while True:
            message = self.take(lane=lane)
            if message is None:
                continue
            generation_id, kind = message
            try:
                consumer(generation_id, kind)
            except Exception:  # a worker thread must survive any one message
                log.exception("lane message failed in worker", extra={"job_id": generation_id})
            finally:
                self._done()
