"""Who watches what over the real-time API: connections, their identities and their watches.

Kept in the state store with TTLs, both ways (a topic's watchers, a connection's topics), so that
any Lambda can push to the watchers of a generation and a disconnect can undo every watch. A
*topic* is a generation id or a batch id; a *watcher* is a connection and the id it asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from chalicelib.domain.generation import Generation
from chalicelib.domain.identity import Identity, IdentityKind
from chalicelib.domain.progress import JobProgress
from chalicelib.domain.watcher import Watcher

__all__ = ["Connection", "WatchOutcome", "WatchRegistry", "WatchResult", "Watcher"]

WatchOutcome = Literal["ok", "unknown_connection", "not_found", "too_many"]


@dataclass(frozen=True)
class WatchResult:
    """``ok`` with the generation as it is now (for a generation watch, read in the same atomic
    call that registered it: no change can fall between the two), or why not."""

    outcome: WatchOutcome
    generation: Generation | None = None


@dataclass(frozen=True)
class Connection:
    """An open connection's identity, recorded when it connected."""

    connection_id: str
    kind: IdentityKind
    subject: str
    tier: str

    @property
    def identity(self) -> Identity:
        return Identity(self.kind, self.subject, self.tier)


class WatchRegistry(Protocol):
    """Connections and watches, each call one round trip; raises ``StoreError``."""

    def connect(self, connection: Connection, ttl_s: int) -> None:
        """Record an authenticated connection for ``ttl_s`` seconds (API Gateway's 2 h at most)."""
        ...

    def connection(self, connection_id: str) -> Connection | None: ...

    def watch_generation(
        self, connection_id: str, generation_id: str, *, limit: int, ttl_s: int
    ) -> WatchResult:
        """Watch a generation if it is the connection owner's: ``not_found`` otherwise (another
        identity's id looks missing), ``too_many`` past ``limit`` watched ids. A follower (a
        request that joined an identical job in flight) is watched through its leader's topic,
        as itself: its watchers are told ``watched`` = the follower's id."""
        ...

    def watch_topic(self, connection_id: str, topic: str, *, limit: int, ttl_s: int) -> WatchOutcome:
        """Watch a topic whose ownership the caller has checked (a batch)."""
        ...

    def watchers(self, topics: Sequence[str]) -> list[Watcher]:
        """Everyone watching any of ``topics`` (a job's end: the job, and its batch)."""
        ...

    def progressed(self, generation: Generation, progress: JobProgress) -> list[Watcher]:
        """Record a running job's phase on its record (only while that attempt is running) and
        answer who watches it or its batch: one round trip, the push's only one."""
        ...

    def forget(self, connection_id: str) -> None:
        """Drop a connection and every watch it had (a disconnect, or a 410 on a push)."""
        ...
