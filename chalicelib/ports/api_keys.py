"""Enterprise API keys in the state store: only keyed hashes, never the keys themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ApiKeyRecord:
    """An enterprise API key as the store keeps it: never the key itself, only its keyed hash.

    ``key_hash`` and ``webhook_secret`` are filled only where they are needed (issuing, and
    signing callbacks through :meth:`ApiKeyStore.get`); listings leave them empty.
    """

    id: str
    name: str
    tier: str
    limits: Mapping[str, int]
    created_at: str
    prefix: str  # the visible start of the key, for an operator to recognise it
    revoked: bool = False
    key_hash: str = ""
    webhook_secret: str = ""


class ApiKeyStore(Protocol):
    """Issued keys, looked up by hash in one GET; raises ``StoreError``."""

    def put(self, record: ApiKeyRecord) -> None:
        """Store a new key's record, its lookup by hash and its place in the listing, at once."""
        ...

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The live (unrevoked) key with this hash: one GET."""
        ...

    def get(self, key_id: str) -> ApiKeyRecord | None:
        """A key's full record by id (revoked or not), webhook secret included."""
        ...

    def list(self, limit: int = 1000) -> list[ApiKeyRecord]:
        """Every key, newest first, without hashes or secrets."""
        ...

    def revoke(self, key_id: str) -> bool:
        """Mark the key revoked and delete its lookup in one atomic call; False if unknown."""
        ...
