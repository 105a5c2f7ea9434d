"""What a container keeps of the gallery between requests, within bounds.

Shards and the locator are content-addressed, so they are cached by key across gallery versions:
a publish that changed one style costs a reader that one shard. Shards are evicted least recently
used first once their footprint passes the budget, and API items are rendered on demand and kept
in a bounded LRU, so a container's gallery memory stays bounded whatever the gallery's size.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from chalicelib.ports.gallery import GalleryShard, GalleryStore, ItemLocator
from chalicelib.schemas.models import GalleryItem

log = logging.getLogger(__name__)

SHARD_BUDGET = 48 * 2**20  # bytes of shards held: a 100k-item gallery fits (about 45 MiB)
RENDERED_ITEMS = 2048  # API items kept: every item of ~85 full pages


class ShardCache:
    """Loaded shards by key, least recently used first, and the current locator."""

    def __init__(self, store: GalleryStore, budget: int = SHARD_BUDGET) -> None:
        self._store = store
        self._budget = budget
        self._shards: OrderedDict[str, GalleryShard] = OrderedDict()
        self._held = 0
        self._locator: tuple[str, ItemLocator] | None = None
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """The footprint of the shards held now, in bytes."""
        return self._held

    def peek(self, key: str) -> GalleryShard | None:
        """The shard if it is loaded (marked as used), without reading the object store."""
        with self._lock:
            shard = self._shards.get(key)
            if shard is not None:
                self._shards.move_to_end(key)
            return shard

    def load(self, key: str) -> GalleryShard | None:
        """The shard, read and decoded on first use; None (logged, not kept) if it is missing."""
        shard = self.peek(key)
        if shard is not None:
            return shard
        # Read outside the lock: two threads may both read a cold shard, which costs a GET.
        shard = self._store.shard(key)
        if shard is None:
            log.error("gallery shard %s is missing; serving its style as empty", key)
            return None
        with self._lock:
            if key not in self._shards:
                self._shards[key] = shard
                self._held += shard.footprint
            # Evict the least recently used, never the one just loaded: a request in progress
            # keeps the shards it holds alive anyway, eviction only drops the cache's reference.
            while self._held > self._budget and len(self._shards) > 1:
                _, dropped = self._shards.popitem(last=False)
                self._held -= dropped.footprint
        return shard

    def locator(self, key: str) -> ItemLocator | None:
        cached = self._locator
        if cached is not None and cached[0] == key:
            return cached[1]
        locator = self._store.locator(key)
        if locator is None:
            log.error("gallery locator %s is missing", key)
            return None
        self._locator = (key, locator)
        return locator


class RenderedItems:
    """API items by (shard or version, id): a bounded LRU, so memory does not grow with use."""

    def __init__(self, capacity: int = RENDERED_ITEMS) -> None:
        self._capacity = max(1, capacity)
        self._items: OrderedDict[tuple[str, str], GalleryItem] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: str, item_id: str) -> GalleryItem | None:
        # No lock on a hit (the common case on a warm page): each OrderedDict call is atomic
        # under the GIL, and an item evicted by another thread in between is only not moved.
        key = (scope, item_id)
        item = self._items.get(key)
        if item is not None:
            try:  # noqa: SIM105 (contextlib.suppress costs an object per hit, on the hot path)
                self._items.move_to_end(key)
            except KeyError:
                pass
        return item

    def put(self, scope: str, item_id: str, item: GalleryItem) -> GalleryItem:
        with self._lock:
            self._items[(scope, item_id)] = item
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return item
