"""How far an open job has come: its phase, and what the provider said of it.

A job moves ``queued -> starting -> generating -> storing`` while it is open. ``queued`` is the
status itself; the three running phases are recorded on the generation (``progress`` in its hash)
by the same store call that reads who watches it (``WatchRegistry.progressed``), so a client that
polls sees the same phase as one that is pushed to. A record left by an earlier attempt (a job
released and claimed again) is ignored: ``attempt`` must be the generation's current one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Literal

Phase = Literal["queued", "starting", "generating", "storing"]
PHASES: tuple[Phase, ...] = ("queued", "starting", "generating", "storing")
RUNNING_PHASES: tuple[Phase, ...] = ("starting", "generating", "storing")


@dataclass(frozen=True)
class JobProgress:
    """One running phase of one attempt: since when, and the provider's own word where it gave one
    (``percent`` 0..100 from its status or logs, ``provider_queue_position`` in its queue)."""

    phase: Phase
    since_ms: int
    attempt: int = 0
    percent: float | None = None
    provider_queue_position: int | None = None

    def to_json(self) -> str:
        doc: dict[str, object] = {"phase": self.phase, "since": self.since_ms, "attempt": self.attempt}
        if self.percent is not None:
            doc["percent"] = round(self.percent, 1)
        if self.provider_queue_position is not None:
            doc["queue"] = self.provider_queue_position
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> JobProgress | None:
        """The record as the store keeps it; None for anything unreadable (never raises)."""
        if not text:
            return None
        try:
            doc = json.loads(text)
            phase = doc["phase"]
            if phase not in RUNNING_PHASES:
                return None
            return cls(
                phase=phase,
                since_ms=int(doc.get("since", 0)),
                attempt=int(doc.get("attempt", 0)),
                percent=clamp_percent(doc.get("percent")),
                provider_queue_position=_count(doc.get("queue")),
            )
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
            return None


def clamp_percent(value: object) -> float | None:
    """A percentage from a provider, as a number within 0..100 (None if it is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return min(100.0, max(0.0, number))


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
