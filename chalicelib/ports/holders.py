"""Who still serves each stored image: erasure deletes an image only when no one else does.

Images are content-addressed (``img/<digest>.webp``), so one object may be served by several
generations (the job that made it, requests served from its cache entry, identical requests that
joined it) and a pinned copy (``pinned/<digest>.webp``) by several chosen avatars. Each object key
has a set of holders: generation ids (kept by the admit and finish scripts themselves) and
``avatar:<identity>`` for pins (kept by the avatar use case through this port).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ImageHolders(Protocol):
    """The holders of stored images; each call one round trip; raises ``StoreError``."""

    def hold(self, object_keys: Sequence[str], holder: str) -> None:
        """Record ``holder`` as serving each object (no expiry: a pin lives as long as its avatar)."""
        ...

    def release(self, object_keys: Sequence[str], holder: str) -> list[str]:
        """``holder`` serves these objects no more: the objects it was the LAST holder of."""
        ...

    def unheld(self, object_keys: Sequence[str]) -> list[str]:
        """The objects that no one holds (made by a job that ended into nothing)."""
        ...
