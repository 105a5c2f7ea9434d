"""Images and documents by key, each with a public URL (R2 behind the CDN, or local files)."""

from __future__ import annotations

import re
from typing import Protocol

IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Keys are "folder/name" with a safe alphabet: no "..", no absolute paths, nothing to escape.
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}/[A-Za-z0-9][A-Za-z0-9._-]{0,190}$")


def is_valid_key(key: str) -> bool:
    """Whether ``key`` is a key every adapter accepts (and the local one can serve as a file)."""
    return bool(KEY_PATTERN.fullmatch(key)) and ".." not in key


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
