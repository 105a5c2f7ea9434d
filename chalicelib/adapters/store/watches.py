"""The real-time API's watches on Redis: who is connected, and who watches which topic.

Keys (under the deployment prefix), each with a TTL no longer than the connection's:

    ws:conn:{id}           hash: the connection's identity (kind, subject, tier, owner)
    ws:conn:{id}:watches   set of "topic watched": what to undo on disconnect, and the count limit
    ws:watchers:{topic}    set of "connection watched": whom a change of the topic goes to

The moves that touch several keys are Lua scripts (``ws_*.lua``), one round trip each.
"""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.store.client import Arg
from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.replies import hash_reply, pairs, text
from chalicelib.adapters.store.scripts import script
from chalicelib.domain.generation import Generation
from chalicelib.domain.progress import JobProgress
from chalicelib.ports import Connection, StoreError, Watcher, WatchOutcome, WatchResult

_KINDS = ("user", "api_key", "anonymous")


def watchers_of(reply: object) -> list[Watcher]:
    """The watchers in a set's members (``"<connection> <watched id>"`` each)."""
    found = []
    for raw in reply if isinstance(reply, list | set | tuple) else []:
        connection_id, _, watched = text(raw).partition(" ")
        if connection_id and watched:
            found.append(Watcher(connection_id, watched))
    return sorted(found, key=lambda w: (w.connection_id, w.watched))


class RedisWatches:
    """:class:`chalicelib.ports.WatchRegistry` on Redis."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def _conn(self, connection_id: str) -> str:
        return self._keys.key(f"ws:conn:{connection_id}")

    def _conn_watches(self, connection_id: str) -> str:
        return self._keys.key(f"ws:conn:{connection_id}:watches")

    def connect(self, connection: Connection, ttl_s: int) -> None:
        identity = connection.identity
        fields = {
            "kind": identity.kind,
            "subject": identity.subject,
            "tier": identity.tier,
            "owner": identity.key,
        }
        args: list[Arg] = [max(1, int(ttl_s)), connection.connection_id, self._keys.watchers_prefix]
        for name, value in fields.items():
            args += [name, value]
        self._keys.client.run_script(
            script("ws_connect"),
            [self._conn(connection.connection_id), self._conn_watches(connection.connection_id)],
            args,
        )

    def connection(self, connection_id: str) -> Connection | None:
        fields = hash_reply(self._keys.client.command("HGETALL", self._conn(connection_id)))
        kind = fields.get("kind")
        if kind not in _KINDS or "subject" not in fields:
            return None
        return Connection(connection_id, kind, fields["subject"], fields.get("tier") or "anonymous")  # type: ignore[arg-type]

    def watch_generation(
        self, connection_id: str, generation_id: str, *, limit: int, ttl_s: int
    ) -> WatchResult:
        reply = self._watch(
            connection_id,
            generation_id,
            self._keys.generation(generation_id),
            limit=limit,
            ttl_s=ttl_s,
            check=True,
        )
        outcome = self._outcome(reply)
        if outcome != "ok":
            return WatchResult(outcome)
        fields = pairs(reply[1:])
        if not fields.get("id"):
            return WatchResult("not_found")
        return WatchResult("ok", Generation.from_fields(fields))

    def watch_topic(self, connection_id: str, topic: str, *, limit: int, ttl_s: int) -> WatchOutcome:
        return self._outcome(
            self._watch(
                connection_id, topic, self._conn(connection_id), limit=limit, ttl_s=ttl_s, check=False
            )
        )

    def watchers(self, topics: Sequence[str]) -> list[Watcher]:
        if not topics:
            return []
        return watchers_of(
            self._keys.client.command("SUNION", *(self._keys.watchers_prefix + t for t in topics))
        )

    def progressed(self, generation: Generation, progress: JobProgress) -> list[Watcher]:
        own = self._keys.watchers_prefix + generation.id
        batch = self._keys.watchers_prefix + generation.batch if generation.batch else own
        reply = self._keys.client.run_script(
            script("ws_progress"),
            [self._keys.generation(generation.id), own, batch],
            [progress.attempt, progress.to_json()],
        )
        return watchers_of(reply)

    def forget(self, connection_id: str) -> None:
        self._keys.client.run_script(
            script("ws_forget"),
            [self._conn(connection_id), self._conn_watches(connection_id)],
            [connection_id, self._keys.watchers_prefix],
        )

    # -- plumbing ------------------------------------------------------------------------------
    def _watch(
        self, connection_id: str, asked: str, checked_key: str, *, limit: int, ttl_s: int, check: bool
    ) -> list[object]:
        reply = self._keys.client.run_script(
            script("ws_watch"),
            [self._conn(connection_id), self._conn_watches(connection_id), checked_key],
            [
                connection_id,
                asked,
                max(1, limit),
                max(1, int(ttl_s)),
                self._keys.watchers_prefix,
                "1" if check else "0",
            ],
        )
        if not isinstance(reply, list) or not reply:
            raise StoreError("state store returned an unexpected watch reply")
        return reply

    @staticmethod
    def _outcome(reply: list[object]) -> WatchOutcome:
        outcome = text(reply[0])
        if outcome not in ("ok", "unknown_connection", "not_found", "too_many"):
            raise StoreError("state store returned an unexpected watch reply")
        return outcome  # type: ignore[return-value]
