"""The stored gallery: an index that names one shard per style, read a piece at a time.

The gallery use cases (``services/gallery``) read and write the gallery through this port and
never see its storage format (``adapters/storage/gallery_layout.py`` and ``gallery_shard.py``).
The values it hands out are read-only views described here by what the use cases ask of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from chalicelib.domain.gallery import GalleryEntry


class GalleryShard(Protocol):
    """One style's items in memory, sorted by id; an item is decoded when asked for."""

    @property
    def key(self) -> str:
        """Its object key: content-addressed, so it names the same items in every version."""
        ...

    @property
    def ids(self) -> Sequence[str]: ...

    @property
    def footprint(self) -> int:
        """Bytes held, about: what a reader's memory budget counts."""
        ...

    def position(self, item_id: str) -> int | None: ...

    def entry(self, position: int) -> GalleryEntry: ...

    def entries(self) -> Iterable[GalleryEntry]: ...

    def after(self, tag: str | None, after_id: str | None, count: int) -> Sequence[int]:
        """Positions of up to ``count`` items (with ``tag``) whose id sorts after ``after_id``."""
        ...

    def stable(self) -> Sequence[int]:
        """Positions of the procedural items, where default avatars come from."""
        ...


class StyleSummary(Protocol):
    """One style as the index describes it, without reading its shard."""

    @property
    def style(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def count(self) -> int: ...

    @property
    def stable(self) -> int:
        """How many of its items are procedural (default avatars)."""
        ...

    @property
    def sample(self) -> Sequence[GalleryEntry]:
        """The first item by id, then a fixed random few: suggestions and previews."""
        ...

    @property
    def inline(self) -> object | None:
        """The style's shard kept inside the index (a small style), in the store's format;
        None when the shard is an object of its own."""
        ...


class GalleryIndex(Protocol):
    """One version of the gallery: what every request of that version starts from."""

    @property
    def count(self) -> int: ...

    @property
    def styles(self) -> Mapping[str, StyleSummary]: ...

    @property
    def locator(self) -> str | None:
        """The key of the item-to-style locator; None when every style is inside the index."""
        ...


class ItemLocator(Protocol):
    """Which style holds an item, without reading any shard."""

    def styles_of(self, item_id: str) -> Sequence[str]:
        """The styles whose shard may hold ``item_id`` (one, bar a fingerprint collision)."""
        ...


class PublishedItems(Protocol):
    """What is in the stored gallery, as the refresh asks it: by id and by picture."""

    @property
    def total(self) -> int: ...

    @property
    def legacy(self) -> bool:
        """Stored in an older layout: the next write moves it to the current one."""
        ...

    def has_id(self, item_id: str) -> bool: ...

    def has_picture(self, picture: str) -> bool: ...


class GalleryStore(Protocol):
    """The gallery in an object store: versions of an index, shards by key, publishing.

    Readers see the old gallery or the new one: a publish writes everything the new index names
    before the index itself, in one put.
    """

    def read_index(self, known: str | None = None) -> tuple[str, GalleryIndex | None]:
        """The stored gallery's version, and its index unless that version is ``known`` (then
        None). Nothing stored is the version ``"empty"`` with an empty index."""
        ...

    def shard(self, key: str) -> GalleryShard | None:
        """A style's shard read and decoded; None if it is missing."""
        ...

    def inline_shard(self, summary: StyleSummary) -> GalleryShard | None:
        """The shard the index itself holds for a small style (decoded now); None if it has none."""
        ...

    def locator(self, key: str) -> ItemLocator | None:
        """The locator the index names, read and decoded; None if it is missing."""
        ...

    def publish(self, entries: Iterable[GalleryEntry]) -> tuple[str, GalleryIndex]:
        """Replace the gallery with ``entries`` (a later one replaces an earlier one's id):
        the new version and its index."""
        ...

    def add(self, entries: Iterable[GalleryEntry]) -> tuple[str, GalleryIndex] | None:
        """``entries`` added (replacing items of the same id), rewriting only the styles they
        touch: the new version and its index; None when there was nothing to write."""
        ...

    def published(self) -> PublishedItems:
        """The stored gallery's ids and pictures (read now), without its shards."""
        ...

    def unconverted(self) -> list[GalleryEntry] | None:
        """The items of a gallery still stored in an older layout (possibly none), to publish
        again in this one; None when there is no such gallery (a current one, or nothing)."""
        ...

    def has_index(self) -> bool:
        """Whether a gallery is stored in the current layout."""
        ...

    def public_url(self, key: str) -> str:
        """The public URL of an image key of the gallery's items."""
        ...
