"""Counting the funnel's steps (domain/funnel.py) under the general request rate, in one call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.ports.generations import Counter


@dataclass(frozen=True)
class RateWindow:
    """The caller's general request rate counter: its key, its limit, when it resets (epoch s)."""

    key: str
    limit: int
    reset_at: int


@dataclass(frozen=True)
class RateVerdict:
    """``allowed``: the request was within the rate (and its counters were added); ``count``: the
    requests of the window so far, this one included."""

    allowed: bool
    count: int


class EventCounters(Protocol):
    """Adds to counters only within the caller's request rate; raises ``StoreError``."""

    def add_within_rate(self, rate: RateWindow, counters: Sequence[Counter]) -> RateVerdict:
        """Count this request in ``rate`` and, if it is within the limit, add every counter
        (each with its ttl), atomically, in one store call; over the limit nothing is added."""
        ...
