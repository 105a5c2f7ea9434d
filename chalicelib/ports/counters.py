"""Counters read back in one call: quota windows, stats and spend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Counters(Protocol):
    """Reads of the counters that the admit and finish scripts keep; raises ``StoreError``."""

    def quota_counts(self, keys: Sequence[str]) -> list[int]:
        """The current values of quota counters (0 where absent)."""
        ...

    def values(self, keys: Sequence[str]) -> list[float]:
        """The current values of counters (stats, spend) in one call, 0.0 where absent."""
        ...
