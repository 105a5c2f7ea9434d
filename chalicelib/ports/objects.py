"""Images and documents by key, each with a public URL (R2 behind the CDN, or local files)."""

from __future__ import annotations

from typing import Protocol

IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"


class ObjectStoreError(Exception):
    """The object store failed to read or write."""


class ObjectStore(Protocol):
    """Images and documents by key (``folder/name``), with a public URL per key."""

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str = IMMUTABLE_CACHE_CONTROL
    ) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def exists(self, key: str) -> bool: ...

    def public_url(self, key: str) -> str: ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is no error (erasure may run twice)."""
        ...


class ExpiringObjects(Protocol):
    """An object store that deletes old objects when asked: the local directory, which has no
    lifecycle rule of its own (R2's lifecycle rule in infra/ does this in production)."""

    def delete_older_than(self, folder: str, cutoff_epoch_s: float) -> int:
        """Delete the objects of ``folder`` last written before ``cutoff_epoch_s``: how many."""
        ...
