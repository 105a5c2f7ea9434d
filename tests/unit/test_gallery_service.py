"""GalleryService: cheap revalidation, filtered pages with cursors, suggestions (no I/O)."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter

import pytest

from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore
from chalicelib.adapters.storage.gallery_writer import MANIFEST_KEY
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.styles import STYLES
from chalicelib.ports import StoreError
from chalicelib.services.gallery.catalog import VERSION_KEY, GalleryService


class MemoryObjects:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.calls: Counter[str] = Counter()

    def put(self, key: str, data: bytes, content_type: str, cache_control: str = "") -> None:
        self.calls["put"] += 1
        self.data[key] = data

    def get(self, key: str) -> bytes | None:
        self.calls["get"] += 1
        return self.data.get(key)

    def exists(self, key: str) -> bool:
        self.calls["exists"] += 1
        return key in self.data

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def public_url(self, key: str) -> str:
        return f"https://cdn.test/{key}"


class MemoryStore:
    """The three state-store calls the gallery makes, counted; ``down`` makes each one fail."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.down = False

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.down:
            raise StoreError("down")

    def get(self, key: str) -> str | None:
        self._call("get_json")
        return self.data.get(key)

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        self._call("set_json")
        self.data[key] = value

    def set_once(self, key: str, value: str, ttl: int) -> bool:
        self._call("set_once")
        return self.data.setdefault(key, value) == value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entries(n: int, source: str = "procedural") -> list[GalleryEntry]:
    styles = [s.id for s in STYLES]
    return [
        GalleryEntry(
            id=f"e-{i:05d}",
            style=styles[i % len(styles)],
            tags=("even" if i % 2 == 0 else "odd", f"t{i % 7}"),
            source=source,
            image_keys={s: f"gallery/{i}-{s}.webp" for s in ("128", "256", "512")},
        )
        for i in range(n)
    ]


def service(objects: MemoryObjects, store: MemoryStore | None, clock: Clock) -> GalleryService:
    return GalleryService(ObjectGalleryStore(objects), kv=store, revalidate_seconds=60, clock=clock)  # type: ignore[arg-type]


def test_warm_listing_costs_no_call_and_revalidation_one_small_read() -> None:
    objects, store, clock = MemoryObjects(), MemoryStore(), Clock()
    service(objects, store, clock).publish(entries(50))
    reader = service(objects, store, clock)

    reader.page(None, None, 24, None)  # cold: the manifest is read once
    assert objects.calls["get"] == 1
    objects.calls.clear()
    store.calls.clear()

    for _ in range(100):
        reader.page("anime", None, 10, None)
    assert objects.calls == Counter() and store.calls == Counter()  # warm: nothing at all

    clock.now += 61
    reader.page(None, "even", 10, None)
    assert store.calls == Counter({"get_json": 1})  # one small read of gallery:version
    assert objects.calls == Counter()  # and no manifest download: it did not change

    service(objects, store, clock).publish(entries(60))  # another process publishes
    objects.calls.clear()
    store.calls.clear()
    clock.now += 61
    page = reader.page(None, None, 100, None)
    assert len(page.items) == 60
    assert objects.calls == Counter({"get": 1})
    assert store.calls == Counter({"get_json": 1})


def test_a_manifest_without_a_version_is_recorded_once() -> None:
    objects, store, clock = MemoryObjects(), MemoryStore(), Clock()
    service(objects, None, clock).publish(entries(5))  # written without a store
    reader = service(objects, store, clock)
    reader.entries()
    clock.now += 61
    reader.entries()
    assert store.calls == Counter({"get_json": 1, "set_once": 1})
    clock.now += 61
    objects.calls.clear()
    reader.entries()
    assert objects.calls == Counter()  # now cheap


def test_store_down_falls_back_to_the_manifest() -> None:
    objects, store, clock = MemoryObjects(), MemoryStore(), Clock()
    writer = service(objects, store, clock)
    writer.publish(entries(5))
    reader = service(objects, store, clock)
    assert len(reader.entries()) == 5
    store.down = True
    service(objects, None, clock).publish(entries(8))
    clock.now += 61
    assert len(reader.entries()) == 8


def test_pages_match_a_plain_filter_for_every_filter_and_cursor() -> None:
    objects, clock = MemoryObjects(), Clock()
    gallery = service(objects, None, clock)
    everything = entries(157)
    gallery.publish(reversed(everything))
    for style, tag in itertools.product([None, "anime", "pixel"], [None, "even", "t3", "nope"]):
        expected = [
            e.id for e in everything if (style is None or e.style == style) and (tag is None or tag in e.tags)
        ]
        got: list[str] = []
        cursor = None
        while True:
            page = gallery.page(style, tag, 7, cursor)
            got += [item.id for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert got == expected, (style, tag)


def test_bad_style_and_cursor_are_400() -> None:
    gallery = service(MemoryObjects(), None, Clock())
    gallery.publish(entries(3))
    with pytest.raises(InvalidRequest):
        gallery.page("no-such-style", None, 10, None)
    with pytest.raises(InvalidRequest):
        gallery.page(None, None, 10, "%%%")


def test_unknown_manifest_fields_are_ignored() -> None:
    objects = MemoryObjects()
    doc = {"items": [{**json.loads(json.dumps(vars(entries(1)[0]))), "tags": ["a"], "from_the_future": 1}]}
    objects.data[MANIFEST_KEY] = json.dumps(doc).encode()
    assert service(objects, None, Clock()).entries()[0].tags == ("a",)


def test_publish_records_the_version() -> None:
    objects, store = MemoryObjects(), MemoryStore()
    version = service(objects, store, Clock()).publish(entries(3))
    assert store.data[VERSION_KEY] == version


def test_suggestions_are_same_style_first_and_vary_between_calls() -> None:
    gallery = service(MemoryObjects(), None, Clock())
    gallery.publish(entries(300))  # 30 per style
    seen: set[tuple[str, ...]] = set()
    for n in range(20):
        picks = gallery.suggest("anime", salt=f"prompt {n % 2}")
        assert len(picks) == 6
        styles = [p["style"] for p in picks]
        assert styles[:4] == ["anime"] * 4  # same style first ...
        assert "anime" not in styles[4:]  # ... then two of other styles
        assert len({p["id"] for p in picks}) == 6
        seen.add(tuple(str(p["id"]) for p in picks))
    assert len(seen) >= 15  # never the same six for everyone


def test_suggestions_for_a_small_gallery() -> None:
    gallery = service(MemoryObjects(), None, Clock())
    gallery.publish(entries(3))
    picks = gallery.suggest("professional", salt="x")
    assert picks[0]["style"] == "professional"
    assert len(picks) == 3
    assert service(MemoryObjects(), None, Clock()).suggest("anime", salt="x") == []


def test_default_avatar_is_stable_and_procedural() -> None:
    gallery = service(MemoryObjects(), None, Clock())
    photos = [dataclasses.replace(e, id=f"p{e.id}") for e in entries(200, source="pexels")]
    gallery.publish([*entries(20), *photos])
    defaults = [gallery.default_for(f"user-{n}") for n in range(50)]
    assert defaults == [gallery.default_for(f"user-{n}") for n in range(50)]
    assert all(d is not None and d.source == "procedural" for d in defaults)
