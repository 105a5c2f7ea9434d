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
