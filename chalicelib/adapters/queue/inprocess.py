"""The embedded job queue: worker threads that serve premium before free before batch."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

from chalicelib.domain.tiers import LANES

log = logging.getLogger(__name__)

LANE_PRIORITY = {lane: rank for rank, lane in enumerate(LANES)}


class InProcessQueue:
    """:class:`chalicelib.ports.JobQueue` served by daemon threads in this process.

    Jobs are also recorded as open in the state store when they are admitted, so a restart
    finds them there and enqueues them again (see ``services.jobs.recover_open_jobs``).
    """

    def __init__(self, handler: Callable[[str], None], threads: int = 2, autostart: bool = True) -> None:
        self._handler = handler
        self._heap: list[tuple[int, int, str]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._queued: set[str] = set()
        self._threads = max(1, threads)
        self._started = False
        self._autostart = autostart

    def start(self) -> None:
        with self._cond:
            if self._started:
                return
            self._started = True
        for n in range(self._threads):
            threading.Thread(target=self._serve, name=f"avatarflow-worker-{n}", daemon=True).start()

    def enqueue(self, generation_id: str, lane: str) -> None:
        with self._cond:
            if generation_id in self._queued:
                return  # already waiting: a second copy would only find the job claimed
            self._queued.add(generation_id)
            heapq.heappush(self._heap, (LANE_PRIORITY.get(lane, len(LANES)), next(self._seq), generation_id))
            self._cond.notify()
        if self._autostart:
            self.start()

    def depth(self, lane: str) -> int:
        rank = LANE_PRIORITY.get(lane, len(LANES))
        with self._cond:
            return sum(1 for item in self._heap if item[0] == rank)

    def take(self, timeout: float | None = None) -> str | None:
        """The next job by lane priority, or None after ``timeout`` seconds with nothing queued."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._heap), timeout=timeout):
                return None
            _, _, generation_id = heapq.heappop(self._heap)
            self._queued.discard(generation_id)
            return generation_id

    def _serve(self) -> None:
        while True:
            generation_id = self.take()
            if generation_id is None:
                continue
            try:
                self._handler(generation_id)
            except Exception:  # a worker thread must survive any one job
                log.exception("job failed in worker", extra={"job_id": generation_id})
