"""One style's gallery items as stored and as held in memory: a shard.

A shard is a JSON Lines document, its items sorted by id::

    line 0   {"format", "style", "ids": [...], "sources": [...], "source_of": [...],
              "tag_sets": [[...], ...], "tag_set_of": [...]}
    line i   item i-1's other fields, a JSON array in ``ROW_FIELDS`` order (trailing defaults left out)

Its object key carries a hash of its bytes (content-addressed), so a shard never changes once
written and a reader may keep it across gallery versions.

A reader splits the body into lines (in C) and parses the header only: each item stays the bytes
of its line until a page shows it. A loaded shard thus costs about its size in memory, and next to
nothing to the garbage collector (bytes, str and arrays are not tracked); a tag's positions are
found once, from the header, when the tag is first listed.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.gallery import GalleryEntry

SHARD_FORMAT = "avatarflow.gallery.shard/1"
SHARD_PREFIX = "gallery/shard-"
PROCEDURAL = "procedural"  # the stable source that default avatars are drawn from
ROW_FIELDS = (
    "image_keys",
    "attribution_name",
    "attribution_url",
    "license",
    "external_urls",
    "download_location",
)
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(GalleryEntry)}
_DEFAULTS["image_keys"] = {}
# What a loaded shard costs per item beyond its bytes: the line's bytes object and list slot, the
# id's str and list slot, two array slots (measured with tracemalloc on CPython 3.11).
ITEM_OVERHEAD = 104
_UNSAFE = re.compile(r"[^a-z0-9-]")


# ASCII only: a raw newline can then never appear inside a line of a shard. One encoder for
# every call: ``json.dumps`` with options builds a new one each time (a third of a publish).
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()  # rows are decoded here: ``json.loads`` would sniff their encoding first


def dumps(value: object) -> str:
    return _ENCODER.encode(value)


def row_of(entry: GalleryEntry) -> list[Any]:
    """An entry's fields other than id, style, source and tags, trailing defaults left out."""
    row: list[Any] = [getattr(entry, name) for name in ROW_FIELDS]
    row[0] = dict(row[0])
    if row[4] is not None:
        row[4] = dict(row[4])
    while row and row[-1] == _DEFAULTS[ROW_FIELDS[len(row) - 1]]:
        row.pop()
    return row


_ROW_DEFAULTS = [_DEFAULTS[name] for name in ROW_FIELDS]


def entry_of(item_id: str, style: str, source: str, tags: tuple[str, ...], row: list[Any]) -> GalleryEntry:
    """The entry of a stored row: the fields left out are the defaults."""
    if len(row) < len(ROW_FIELDS):
        row = row + _ROW_DEFAULTS[len(row) :]
    return GalleryEntry(item_id, style, tags, source, *row)


def shard_key(style: str, body: bytes) -> str:
    """``gallery/shard-<style>-<hash>.jsonl``: one folder level, as every object store accepts."""
    name = _UNSAFE.sub("_", style.lower())[:40] or "_"
    return f"{SHARD_PREFIX}{name}-{hashlib.sha256(body).hexdigest()[:20]}.jsonl"


def encode_shard(style: str, entries: Sequence[GalleryEntry]) -> bytes:
    """The shard of ``entries`` (one style, sorted by id, unique ids): the same bytes for the
    same items, so an unchanged style keeps its key."""
    sources = sorted({e.source for e in entries})
    source_index = {s: i for i, s in enumerate(sources)}
    tag_sets: dict[tuple[str, ...], int] = {}
    for entry in entries:
        tag_sets.setdefault(tuple(entry.tags), len(tag_sets))
    header = {
        "format": SHARD_FORMAT,
        "style": style,
        "ids": [e.id for e in entries],
        "sources": sources,
        "source_of": [source_index[e.source] for e in entries],
        "tag_sets": [list(t) for t in tag_sets],
        "tag_set_of": [tag_sets[tuple(e.tags)] for e in entries],
    }
    lines = [dumps(header), *(dumps(row_of(e)) for e in entries)]
    return "\n".join(lines).encode()


@dataclass(eq=False)
class Shard:
    """A decoded shard: ids for ``bisect``, the items as raw lines, parsed one at a time."""

    key: str
    style: str
    ids: list[str]
    sources: tuple[str, ...]
    source_of: array[int]
    tag_sets: tuple[tuple[str, ...], ...]
    tag_set_of: array[int]
    rows: list[bytes]
    footprint: int  # bytes held, about: what the reader's memory budget counts
    _tags: dict[str, array[int]] = field(default_factory=dict, init=False)
    _stable: array[int] | None = field(default=None, init=False)

    @classmethod
    def decode(cls, key: str, body: bytes) -> Shard:
        lines = body.split(b"\n")
        header = json.loads(lines[0])
        if header.get("format") != SHARD_FORMAT:
            raise ValueError(f"{key} is not a gallery shard")
        del lines[0]  # the list is the rows now (one move of pointers, no copy of the bytes)
        ids: list[str] = header["ids"]
        if len(ids) != len(lines):
            raise ValueError(f"{key}: {len(ids)} ids for {len(lines)} items")
        return cls(
            key=key,
            style=str(header["style"]),
            ids=ids,
            sources=tuple(header["sources"]),
            source_of=array("I", header["source_of"]),
            tag_sets=tuple(tuple(t) for t in header["tag_sets"]),
            tag_set_of=array("I", header["tag_set_of"]),
            rows=lines,
            footprint=len(body) + ITEM_OVERHEAD * len(ids),
        )

    def position(self, item_id: str) -> int | None:
        at = bisect.bisect_left(self.ids, item_id)
        return at if at < len(self.ids) and self.ids[at] == item_id else None

    def entry(self, position: int) -> GalleryEntry:
        return entry_of(
            self.ids[position],
            self.style,
            self.sources[self.source_of[position]],
            self.tag_sets[self.tag_set_of[position]],
            _DECODER.decode(self.rows[position].decode()),
        )

    def entries(self) -> Iterable[GalleryEntry]:
        return (self.entry(i) for i in range(len(self.ids)))

    def after(self, tag: str | None, after_id: str | None, count: int) -> Sequence[int]:
        """Positions of up to ``count`` items (with ``tag``) whose id sorts after ``after_id``."""
        start = bisect.bisect_right(self.ids, after_id) if after_id is not None else 0
        if tag is None:
            return range(start, min(start + count, len(self.ids)))
        positions = self.tagged(tag)
        if positions is None:
            return ()
        first = bisect.bisect_left(positions, start)
        return positions[first : first + count]

    def tagged(self, tag: str) -> array[int] | None:
        """The positions of the items with ``tag``, found once per tag; None (and nothing kept)
        for a tag that no item here has, so that made-up tags cost no memory."""
        positions = self._tags.get(tag)
        if positions is None:
            wanted = {i for i, tags in enumerate(self.tag_sets) if tag in tags}
            if not wanted:
                return None
            # A race only computes it twice; the assignment itself is atomic.
            positions = self._tags[tag] = array(
                "I", (p for p, s in enumerate(self.tag_set_of) if s in wanted)
            )
        return positions

    def stable(self) -> array[int]:
        """Positions of the procedural items, where default avatars come from."""
        if self._stable is None:
            wanted = self.sources.index(PROCEDURAL) if PROCEDURAL in self.sources else -1
            self._stable = array("I", (p for p, s in enumerate(self.source_of) if s == wanted))
        return self._stable
