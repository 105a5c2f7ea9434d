"""The gallery's layout in the object store: an index, one shard per style, a locator.

::

    gallery/index.json                    written last, in one put: the gallery's version
    gallery/shard-<style>-<hash>.jsonl    one style's items (gallery_shard.py), content-addressed
    gallery/locator-<hash>.bin            item id -> style (64-bit fingerprints), content-addressed
    gallery/pictures-<hash>.bin           fingerprints of every picture (for the refresh's dedup)

The index names every other object and holds what a request needs without them: the item count
per style, a small sample per style (suggestions, previews) and the count of procedural items
(default avatars). A style of few items is kept inside the index instead of its own object (one
round trip saved, and a small gallery is a single document, as before). Readers see the old
gallery or the new one: every object the index names is written before it and never changes.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.storage.gallery_shard import dumps, encode_shard, entry_of, row_of, shard_key
from chalicelib.domain.gallery import GalleryEntry

INDEX_KEY = "gallery/index.json"
INDEX_FORMAT = "avatarflow.gallery.index/1"
LOCATOR_FORMAT = "avatarflow.gallery.locator/1"
PICTURES_FORMAT = "avatarflow.gallery.pictures/1"
SAMPLE_SIZE = 16  # per style: enough for varied suggestions, small enough for the index
INLINE_ITEMS = 64  # a style with at most this many items is kept inside the index


def fingerprint(value: str) -> int:
    """64 bits of BLAKE2b: at 10^6 items, a chance of about 10^-8 that two of them collide."""
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "little")


def picture_of(entry: GalleryEntry) -> str | None:
    """What identifies an entry's picture: its re-hosted 512 px key, else its hotlinked URL."""
    return entry.image_keys.get("512") or (entry.external_urls or {}).get("512") or None


def _u64(data: bytes | memoryview) -> array[int]:
    values = array("Q")
    values.frombytes(data)
    if sys.byteorder == "big":  # the objects are little-endian, whoever wrote them
        values.byteswap()
    return values


def _u64_bytes(values: array[int]) -> bytes:
    if sys.byteorder == "big":
        values = array("Q", values)
        values.byteswap()
    return values.tobytes()


def _split_binary(body: bytes, expected: str) -> tuple[dict[str, Any], memoryview]:
    head, _, rest = body.partition(b"\n")
    header = json.loads(head)
    if header.get("format") != expected:
        raise ValueError(f"not a {expected} document")
    return header, memoryview(rest)


def _content_key(kind: str, body: bytes, ext: str) -> str:
    return f"gallery/{kind}-{hashlib.sha256(body).hexdigest()[:20]}.{ext}"


@dataclass(frozen=True)
class Locator:
    """Which style holds an item: sorted id fingerprints, each with its style's code."""

    styles: tuple[str, ...]
    hashes: array[int]
    codes: bytes

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, str]]) -> Locator:
        pairs = list(pairs)
        styles = tuple(sorted({style for _, style in pairs}))
        if len(styles) > 256:
            raise ValueError("the locator codes a style in one byte: at most 256 styles")
        code = {s: i for i, s in enumerate(styles)}
        # One int per pair, fingerprint then style code: sorting ints is several times faster
        # than sorting tuples, and it is the same order.
        ordered = sorted({(h << 8) | code[s] for h, s in pairs})
        return cls(styles, array("Q", (v >> 8 for v in ordered)), bytes(v & 0xFF for v in ordered))

    @classmethod
    def decode(cls, body: bytes) -> Locator:
        header, rest = _split_binary(body, LOCATOR_FORMAT)
        count = int(header["count"])
        return cls(tuple(header["styles"]), _u64(rest[: 8 * count]), bytes(rest[8 * count :]))

    def encode(self) -> bytes:
        header = dumps({"format": LOCATOR_FORMAT, "styles": list(self.styles), "count": len(self.hashes)})
        return header.encode() + b"\n" + _u64_bytes(self.hashes) + self.codes

    @staticmethod
    def key(body: bytes) -> str:
        return _content_key("locator", body, "bin")

    def styles_of(self, item_id: str) -> list[str]:
        """The styles whose shard may hold ``item_id`` (one, bar a fingerprint collision)."""
        wanted = fingerprint(item_id)
        at = bisect.bisect_left(self.hashes, wanted)
        found = []
        while at < len(self.hashes) and self.hashes[at] == wanted:
            found.append(self.styles[self.codes[at]])
            at += 1
        return found

    def pairs(self) -> Iterator[tuple[int, str]]:
        styles = self.styles
        return ((h, styles[c]) for h, c in zip(self.hashes, self.codes, strict=True))


@dataclass(frozen=True)
class Pictures:
    """Fingerprints of every picture in the gallery, sorted: the refresh's dedup across runs."""

    hashes: array[int]

    @classmethod
    def of(cls, values: Iterable[int]) -> Pictures:
        return cls(array("Q", sorted(set(values))))

    @classmethod
    def decode(cls, body: bytes) -> Pictures:
        header, rest = _split_binary(body, PICTURES_FORMAT)
        return cls(_u64(rest[: 8 * int(header["count"])]))

    def encode(self) -> bytes:
        header = dumps({"format": PICTURES_FORMAT, "count": len(self.hashes)})
        return header.encode() + b"\n" + _u64_bytes(self.hashes)

    @staticmethod
    def key(body: bytes) -> str:
        return _content_key("pictures", body, "bin")

    def __contains__(self, picture: object) -> bool:
        if not isinstance(picture, str):
            return False
        wanted = fingerprint(picture)
        at = bisect.bisect_left(self.hashes, wanted)
        return at < len(self.hashes) and self.hashes[at] == wanted


@dataclass(frozen=True)
class StyleMeta:
    """One style as the index describes it."""

    style: str
    key: str  # its shard's key (also for a shard kept inline: its name, were it stored)
    count: int
    stable: int  # procedural items: where default avatars come from
    sample: tuple[GalleryEntry, ...]  # the first item by id, then a fixed random few
    inline: bytes | None  # the shard itself, for a small style
    raw: Mapping[str, Any]  # as stored: copied as is into the next index when untouched

    @classmethod
    def decode(cls, style: str, raw: Mapping[str, Any]) -> StyleMeta:
        sample = tuple(entry_of(i, style, src, tuple(tags), row) for i, src, tags, row in raw["sample"])
        inline = raw.get("inline")
        return cls(
            style=style,
            key=str(raw["key"]),
            count=int(raw["count"]),
            stable=int(raw["stable"]),
            sample=sample,
            inline=inline.encode() if isinstance(inline, str) else None,
            raw=raw,
        )


def build_style(
    style: str, entries: Sequence[GalleryEntry], inline_items: int = INLINE_ITEMS
) -> tuple[dict[str, Any], bytes | None]:
    """The index's description of one style (``entries`` sorted by id, unique), and the shard
    to store, or None when it is kept inline. The same items always give the same bytes."""
    body = encode_shard(style, entries)
    key = shard_key(style, body)
    rng = random.Random(key)  # a fixed sample per content: the same index bytes for the same gallery
    chosen = [0, *sorted(rng.sample(range(1, len(entries)), min(SAMPLE_SIZE - 1, len(entries) - 1)))]
    meta: dict[str, Any] = {
        "key": key,
        "count": len(entries),
        "stable": sum(1 for e in entries if e.source == "procedural"),
        "sample": [[e.id, e.source, list(e.tags), row_of(e)] for e in (entries[i] for i in chosen)],
    }
    if len(entries) <= inline_items:
        meta["inline"] = body.decode()
        return meta, None
    return meta, body


def encode_index(styles: Mapping[str, Mapping[str, Any]], locator: str, pictures: str) -> bytes:
    doc = {
        "format": INDEX_FORMAT,
        "count": sum(int(m["count"]) for m in styles.values()),
        "styles": {s: styles[s] for s in sorted(styles)},
        "locator": locator,
        "pictures": pictures,
    }
    return dumps(doc).encode()


@dataclass(frozen=True)
class GalleryIndex:
    """The decoded index: what every request of a version starts from."""

    count: int
    styles: Mapping[str, StyleMeta]
    locator: str | None  # None: every style is inline (or the index came from an old manifest)
    pictures: str | None

    @classmethod
    def decode(cls, raw: bytes) -> GalleryIndex:
        doc = json.loads(raw)
        if doc.get("format") != INDEX_FORMAT:
            raise ValueError("not a gallery index")
        styles = {s: StyleMeta.decode(s, m) for s, m in doc["styles"].items()}
        return cls(int(doc["count"]), styles, doc.get("locator"), doc.get("pictures"))

    @classmethod
    def of_entries(cls, entries: Iterable[GalleryEntry]) -> GalleryIndex:
        """An index with every style inline, built in memory (an old single manifest)."""
        groups = by_style(entries)
        styles = {
            s: StyleMeta.decode(s, build_style(s, g, inline_items=len(g))[0]) for s, g in groups.items()
        }
        return cls(sum(len(g) for g in groups.values()), styles, None, None)


def by_style(entries: Iterable[GalleryEntry]) -> dict[str, list[GalleryEntry]]:
    """Entries by style, each list sorted by id; a later entry replaces an earlier one's id."""
    unique = {e.id: e for e in entries}
    groups: dict[str, list[GalleryEntry]] = {}
    for entry in sorted(unique.values(), key=lambda e: e.id):
        groups.setdefault(entry.style, []).append(entry)
    return groups
