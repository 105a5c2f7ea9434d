"""The sharded gallery: what a container reads (object-store GETs counted by key), what a publish
and the refresh write, cursors across a publish, and the old single manifest (no I/O)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest

from chalicelib.adapters.storage.gallery_layout import INDEX_KEY, SAMPLE_SIZE, GalleryIndex
from chalicelib.adapters.storage.gallery_shard import Shard
from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore
from chalicelib.adapters.storage.gallery_writer import MANIFEST_KEY
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.styles import STYLES
from chalicelib.ports import SourceItem
from chalicelib.services.gallery.catalog import VERSION_KEY, GalleryService
from chalicelib.services.gallery.refresh import GalleryRefresh
from tests.fakes import FakeClock
from tests.unit.test_gallery_service import MemoryStore

STYLE_IDS = [s.id for s in STYLES]


class RecordingObjects:
    """An object store in memory that records the key of every call."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.gets: list[str] = []
        self.puts: list[str] = []

    def put(self, key: str, data: bytes, content_type: str, cache_control: str = "") -> None:
        self.puts.append(key)
        self.data[key] = data

    def get(self, key: str) -> bytes | None:
        self.gets.append(key)
        return self.data.get(key)

    def exists(self, key: str) -> bool:
        return key in self.data

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def public_url(self, key: str) -> str:
        return f"https://cdn.test/{key}"

    def clear(self) -> None:
        self.gets.clear()
        self.puts.clear()

    def index(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.data[INDEX_KEY])
        return doc


def gallery(n: int, *, start: int = 0, photos_every: int = 3) -> list[GalleryEntry]:
    """``n`` entries over every style; every ``photos_every``-th one a hotlinked photo."""
    out = []
    for i in range(start, start + n):
        photo = i % photos_every == 0
        out.append(
            GalleryEntry(
                id=f"{'unsplash' if photo else 'proc'}-{i:06d}",
                style=STYLE_IDS[i % len(STYLE_IDS)],
                tags=("even" if i % 2 == 0 else "odd", f"t{i % 7}", *(("rare",) if i % 97 == 0 else ())),
                source="unsplash" if photo else "procedural",
                image_keys={} if photo else {s: f"gallery/{i}-{s}.webp" for s in ("128", "256", "512")},
                attribution_name=f"Photo by Pérson {i}\n" if photo else None,
                attribution_url=f"https://unsplash.com/@p{i}" if photo else None,
                license="Unsplash" if photo else "CC0-1.0",
                external_urls={s: f"https://images.unsplash.com/p{i}?w={s}" for s in ("128", "256", "512")}
                if photo
                else None,
                download_location=f"https://api.unsplash.com/photos/p{i}/download" if photo else None,
            )
        )
    return out


def reader(objects: RecordingObjects, store: MemoryStore | None = None, **kwargs: Any) -> GalleryService:
    return GalleryService(
        ObjectGalleryStore(objects),
        kv=store,  # type: ignore[arg-type]
        revalidate_seconds=60,
        clock=lambda: 0.0,
        **kwargs,
    )


def sharded(n: int = 600) -> RecordingObjects:
    """A gallery of ``n`` items whose styles are each in their own shard object."""
    objects = RecordingObjects()
    GalleryService(ObjectGalleryStore(objects, inline_items=0)).publish(gallery(n))
    objects.clear()
    return objects


def shard_of(objects: RecordingObjects, style: str) -> str:
    return str(objects.index()["styles"][style]["key"])


def every_page(service: GalleryService, style: str | None, tag: str | None, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = service.page(style, tag, limit, cursor)
        ids += [item.id for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids


def test_publish_then_read_round_trips_every_field() -> None:
    entries = gallery(300)
    objects = RecordingObjects()
    version = GalleryService(ObjectGalleryStore(objects, inline_items=0)).publish(reversed(entries))

    assert objects.puts[-1] == INDEX_KEY  # the index last, after everything it names
    shards = [k for k in objects.puts if k.startswith("gallery/shard-")]
    assert len(shards) == len(STYLE_IDS) and all(k.endswith(".jsonl") for k in shards)
    assert any(k.startswith("gallery/locator-") for k in objects.puts)
    assert len(objects.data[INDEX_KEY]) < 40_000  # small: counts and samples, not the items
    fresh = reader(objects)
    assert fresh.entries() == tuple(sorted(entries, key=lambda e: e.id))
    assert fresh.count() == 300
    assert (
        GalleryService(ObjectGalleryStore(RecordingObjects(), inline_items=0)).publish(entries) == version
    )  # same bytes


def test_a_cold_container_listing_one_style_reads_the_index_and_that_shard_only() -> None:
    objects = sharded()
    service = reader(objects)

    page = service.page("anime", None, 24, None)

    assert {i.style for i in page.items} == {"anime"}
    assert objects.gets == [INDEX_KEY, shard_of(objects, "anime")]
    service.page("anime", "even", 24, page.next_cursor)
    service.get(page.items[3].id)
    assert len(objects.gets) == 2  # the shard is held: no more reads


def test_suggestions_on_a_cold_container_read_the_index_only() -> None:
    objects = sharded()
    seen: set[tuple[str, ...]] = set()
    for n in range(10):
        picks = reader(objects).suggest("pixel", salt=f"prompt {n}")
        assert [p["style"] for p in picks[:4]] == ["pixel"] * 4 and len(picks) == 6
        seen.add(tuple(str(p["id"]) for p in picks))
    assert set(objects.gets) == {INDEX_KEY} and len(objects.gets) == 10
    assert len(seen) >= 8
    first_pixel = min((e for e in gallery(600) if e.style == "pixel"), key=lambda e: e.id)
    expected = reader(RecordingObjects()).to_item(first_pixel).images["256"]
    assert reader(objects).preview_url("pixel") == expected  # the first item by id, as before
    assert set(objects.gets) == {INDEX_KEY}


@pytest.mark.parametrize("inline_items", [0, 10_000])
def test_tag_and_style_listings_match_a_plain_filter(inline_items: int) -> None:
    entries = gallery(700)
    objects = RecordingObjects()
    GalleryService(ObjectGalleryStore(objects, inline_items=inline_items)).publish(entries)
    service = reader(objects)
    for style, tag in [
        (None, None),
        ("anime", None),
        ("anime", "t3"),
        (None, "rare"),
        ("pixel", "rare"),
        (None, "no"),
    ]:
        expected = sorted(
            e.id for e in entries if (style is None or e.style == style) and (tag is None or tag in e.tags)
        )
        assert every_page(service, style, tag, 9) == expected, (style, tag)


def test_a_tag_is_indexed_once_per_shard_and_a_made_up_one_keeps_nothing() -> None:
    objects = sharded()
    service = reader(objects)
    service.page("anime", "t3", 5, None)
    shard = service._shards.peek(shard_of(objects, "anime"))
    assert isinstance(shard, Shard)  # the storage format's shard, whose tag index is looked at
    assert set(shard._tags) == {"t3"}
    service.page("anime", "made-up", 5, None)
    assert set(shard._tags) == {"t3"}


def test_a_cursor_stays_valid_across_a_publish() -> None:
    objects = RecordingObjects()
    writer = GalleryService(ObjectGalleryStore(objects, inline_items=0))
    writer.publish(gallery(300))
    service = GalleryService(ObjectGalleryStore(objects), revalidate_seconds=0)  # revalidates on every call
    first = service.page("anime", None, 10, None)
    assert first.next_cursor is not None
    last_seen = first.items[-1].id

    added = gallery(50, start=1000)
    added += [dataclasses.replace(e, id=f"a{e.id}") for e in gallery(50, start=2000)]  # before it
    writer.add(added)
    rest: list[str] = []
    cursor: str | None = first.next_cursor
    while cursor is not None:
        page = service.page("anime", None, 10, cursor)
        rest += [i.id for i in page.items]
        cursor = page.next_cursor
    now = sorted(e.id for e in [*gallery(300), *added] if e.style == "anime")
    assert rest == [i for i in now if i > last_seen]
    assert any(i.startswith("a") for i in now) and not any(i.startswith("a") for i in rest)


def test_an_old_manifest_is_read_then_rewritten_as_shards() -> None:
    entries = gallery(300)
    objects = RecordingObjects()
    old = {"items": [{**asdict(e), "tags": list(e.tags)} for e in entries]}
    objects.data[MANIFEST_KEY] = json.dumps(old).encode()
    store = MemoryStore()
    legacy_reader = reader(objects, store)

    assert legacy_reader.entries() == tuple(sorted(entries, key=lambda e: e.id))
    assert every_page(legacy_reader, "anime", "t3", 7) == sorted(
        e.id for e in entries if e.style == "anime" and "t3" in e.tags
    )
    default = legacy_reader.default_for("user-1")

    assert (
        GalleryService(ObjectGalleryStore(objects)).ensure_seeded(lambda: pytest.fail("must not seed")) == 0
    )
    assert INDEX_KEY in objects.data
    migrated = reader(objects)
    assert migrated.entries() == legacy_reader.entries()
    assert migrated.default_for("user-1") == default  # the same gallery, the same default avatar
    assert (
        GalleryService(ObjectGalleryStore(objects)).ensure_seeded(lambda: pytest.fail("must not seed")) == 0
    )


def test_default_avatars_are_stable_procedural_and_read_one_shard() -> None:
    objects = sharded()
    service = reader(objects)
    defaults = [service.default_for(f"user-{n}") for n in range(40)]
    assert all(d is not None and d.source == "procedural" for d in defaults)
    assert len({d.id for d in defaults if d}) > 20
    assert all(k == INDEX_KEY or k.startswith("gallery/shard-") for k in objects.gets)
    assert [reader(objects).default_for(f"user-{n}") for n in range(40)] == defaults
    cold = RecordingObjects()
    cold.data = objects.data
    reader(cold).default_for("user-7")
    assert len(cold.gets) == 2  # the index and one shard


def test_a_cold_lookup_by_id_reads_the_locator_and_one_shard() -> None:
    objects = sharded()
    wanted = gallery(600)[123]
    service = reader(objects)
    assert service.entry(wanted.id) == wanted
    assert objects.gets[0] == INDEX_KEY and objects.gets[1].startswith("gallery/locator-")
    assert objects.gets[2:] == [shard_of(objects, wanted.style)]
    assert service.entry("proc-999999") is None
    assert service.get(wanted.id).id == wanted.id


def test_adding_items_rewrites_only_their_style() -> None:
    objects = sharded()
    before = objects.index()["styles"]
    service = GalleryService(ObjectGalleryStore(objects))
    new = [dataclasses.replace(e, style="anime") for e in gallery(5, start=5000)]

    service.add(new)

    after = objects.index()["styles"]
    changed = {s for s in after if after[s]["key"] != before[s]["key"]}
    assert changed == {"anime"}
    written = [k for k in objects.puts if k.startswith("gallery/shard-")]
    assert written == [after["anime"]["key"]]
    shards_read = [k for k in objects.gets if k.startswith("gallery/shard-")]
    assert shards_read == [before["anime"]["key"]]
    assert objects.puts[-1] == INDEX_KEY
    assert reader(objects).count() == 605


class HotlinkSource:
    """A source of hotlinked photos (no download, no image processing) for one style: an item
    already in the gallery, a new id with a picture already there, then ``ids``."""

    name = "unsplash"
    styles: tuple[str, ...] = ("anime",)
    per_run = 10
    allowed_hosts: tuple[str, ...] = ()

    def __init__(self, known: GalleryEntry, ids: list[int]) -> None:
        assert known.external_urls is not None
        self.offers = [
            (known.id.removeprefix("unsplash-"), dict(known.external_urls)),
            ("copy", dict(known.external_urls)),
            *(
                (f"n{i}", {s: f"https://images.unsplash.com/new{i}?w={s}" for s in ("128", "256", "512")})
                for i in ids
            ),
        ]

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]:
        for source_id, urls in self.offers:
            yield SourceItem(
                source="unsplash",
                source_id=source_id,
                style=style,
                tags=("photo",),
                license="Unsplash",
                external_urls=urls,
                cursor=source_id,
            )


class KeyValues(MemoryStore):
    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def test_the_refresh_reads_and_writes_only_the_styles_it_adds_to() -> None:
    objects = sharded()
    before = objects.index()["styles"]
    known = gallery(600)[0]  # published, hotlinked, and in another style than the source's
    assert known.external_urls is not None and known.style != "anime"
    source = HotlinkSource(known, [1, 2, 3])
    kv = KeyValues()
    service = GalleryService(ObjectGalleryStore(objects), kv=kv)
    refresh = GalleryRefresh(
        gallery=service,
        objects=objects,
        kv=kv,
        sources=[source],
        fetcher=None,  # type: ignore[arg-type]
        pipeline=None,  # type: ignore[arg-type]
        clock=FakeClock(),
    )

    report = refresh.run()

    assert report.status == "published" and report.added == {"unsplash": 3} and report.total == 603
    assert report.duplicates == 1  # the known picture under a new id; the known id is skipped
    after = objects.index()["styles"]
    assert {s for s in after if after[s]["key"] != before[s]["key"]} == {"anime"}
    shards_read = [k for k in objects.gets if k.startswith("gallery/shard-")]
    assert shards_read == [before["anime"]["key"]]  # at the publish, not to deduplicate
    assert kv.data[VERSION_KEY] == hashlib.sha256(objects.data[INDEX_KEY]).hexdigest()[:16]
    published = service.published()
    assert published.has_id("unsplash-n1") and published.has_id(known.id)
    assert published.has_picture(known.external_urls["512"])
    assert not published.has_id("unsplash-n4")

    again = refresh.run()  # the same items: known by their id, from the locator
    assert again.status == "unchanged" and again.added == {}


def test_memory_stays_within_the_shard_budget() -> None:
    objects = sharded(2000)
    one = len(objects.data[shard_of(objects, "anime")])
    service = reader(objects, shard_budget=3 * one)
    expected = every_page(reader(objects), None, None, 50)
    assert every_page(service, None, None, 50) == expected  # every style, merged by id
    assert service._shards.held <= 3 * one + 300 * 104
    for style in STYLE_IDS:
        assert service.page(style, None, 5, None).items[0].style == style
    assert service._shards.held <= 3 * one + 300 * 104


def test_the_index_keeps_a_sample_per_style_and_small_styles_inline() -> None:
    objects = RecordingObjects()
    GalleryService(ObjectGalleryStore(objects)).publish(
        gallery(50)
    )  # 5 per style: every style inside the index
    doc = objects.index()
    assert [k for k in objects.puts if k.startswith("gallery/shard-")] == []
    assert all("inline" in meta for meta in doc["styles"].values())
    big = sharded(1000)
    for meta in big.index()["styles"].values():
        assert len(meta["sample"]) == SAMPLE_SIZE and "inline" not in meta
    assert GalleryIndex.decode(big.data[INDEX_KEY]).count == 1000


def test_the_refresh_rewrites_an_old_manifest_as_shards_even_with_nothing_new() -> None:
    entries = gallery(600)
    objects = RecordingObjects()
    objects.data[MANIFEST_KEY] = json.dumps({"items": [asdict(e) for e in entries]}).encode()
    kv = KeyValues()
    refresh = GalleryRefresh(
        gallery=GalleryService(ObjectGalleryStore(objects), kv=kv),
        objects=objects,
        kv=kv,
        sources=[HotlinkSource(entries[0], [])],  # offers only what the old manifest has
        fetcher=None,  # type: ignore[arg-type]
        pipeline=None,  # type: ignore[arg-type]
        clock=FakeClock(),
    )

    report = refresh.run()

    assert report.status == "unchanged" and report.added == {} and report.duplicates == 1
    assert report.total == 600 and report.version is not None
    assert INDEX_KEY in objects.data
    assert reader(objects).entries() == tuple(sorted(entries, key=lambda e: e.id))
