"""A connection watching something over the real-time API (a generation, a batch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Watcher:
    """One connection watching a topic; ``watched`` is the id the client asked for (the topic
    itself, the batch whose item this is, or a request that joined the job as a follower)."""

    connection_id: str
    watched: str
