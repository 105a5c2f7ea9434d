"""Time, injected: the wall clock, a monotonic clock for deadlines, and sleeping."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Epoch seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring waits and deadlines (never goes back)."""
        ...

    def sleep(self, seconds: float) -> None: ...
