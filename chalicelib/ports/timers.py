"""The job timers the reaper works through: deadlines, late-webhook polls, client callbacks."""

from __future__ import annotations

from typing import Literal, Protocol

TimerKind = Literal["deadline", "poll", "callback", "followers"]


class JobTimers(Protocol):
    """Generation ids by when something is due; raises ``StoreError``."""

    def due(self, timer: TimerKind, now_ms: int, limit: int = 100) -> list[str]:
        """Ids whose timer is due by ``now_ms``, earliest first: ``deadline`` (open jobs past their
        deadline), ``poll`` (webhook jobs to poll), ``callback`` (client callbacks to deliver),
        ``followers`` (ended jobs whose joined requests are still to be ended)."""
        ...

    def due_between(self, timer: TimerKind, from_ms: int, to_ms: int, limit: int = 100) -> list[str]:
        """Ids whose timer falls in ``[from_ms, to_ms]``, latest first (the dispatch sweep reads
        the ``deadline`` timer this way: jobs admitted a while ago, the most recent first)."""
        ...

    def schedule(self, timer: TimerKind, generation_id: str, at_ms: int | None) -> None:
        """Set a ``poll`` or ``callback`` timer of a job to ``at_ms``, or cancel it with None (a
        stale ``deadline`` entry can only be cancelled: deadlines are set when a job is admitted)."""
        ...
