"""The production adapter of the ``Clock`` port: the process's real clocks."""

from __future__ import annotations

import time


class SystemClock:
    """:class:`chalicelib.ports.Clock` on the real clocks."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
