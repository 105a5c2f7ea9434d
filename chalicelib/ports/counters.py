"""Counters read back in one call: quota windows, stats and spend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.ports.generations import Counter


class Counters(Protocol):
    """The counters that the admit and finish scripts keep (and a few kept outside them, such as
    prompts refused before admission); raises ``StoreError``."""

    def quota_counts(self, keys: Sequence[str]) -> list[int]:
        """The current values of quota counters (0 where absent)."""
        ...

    def values(self, keys: Sequence[str]) -> list[float]:
        """The current values of counters (stats, spend) in one call, 0.0 where absent."""
        ...

    def add(self, counters: Sequence[Counter], *, once: tuple[str, int] | None = None) -> bool:
        """Add to every counter in one atomic call (a ``ttl`` of 0: no expiry). With ``once``
        (a marker key and its ttl), only the first call for that marker adds anything: False
        for the others (an event handled twice counts once)."""
        ...

    def add_and_read(self, counters: Sequence[Counter]) -> list[float]:
        """Add to every counter in one atomic call, as :meth:`add`, and return their new totals in
        the same order (a count that decides something, such as an identity's refused prompts)."""
        ...
