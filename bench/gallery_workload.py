"""The workloads of ``bench.gallery``: a synthetic gallery; warm listings; a cold container's
first requests and the refresh's publish (at 100k items); a container's gallery memory after it
has served every kind of request.

Each implementation runs against its own in-memory object store (holding the layout that it
publishes itself), which counts GETs and bytes: a GET returns a fresh copy of the object, as a
download would.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.report import percentile
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.styles import STYLES

MIB = 2**20
LIMIT = 24
TAGS = ("photo", "illustration", "smiling", "glasses", "beard", "outdoor", "studio", "colourful")
SOURCES = ("procedural", "pexels", "generated_photos", "unsplash")


class MemoryObjects:
    """The object store, in memory, counting what is read and written."""

    def __init__(self, data: dict[str, bytes] | None = None) -> None:
        self.data: dict[str, bytes] = dict(data or {})
        self.gets = self.read = self.puts = self.written = 0

    def put(self, key: str, data: bytes, content_type: str, cache_control: str = "") -> None:
        self.puts += 1
        self.written += len(data)
        self.data[key] = data

    def get(self, key: str) -> bytes | None:
        self.gets += 1
        data = self.data.get(key)
        if data is None:
            return None
        self.read += len(data)
        return bytes(memoryview(data))  # a copy: what a download allocates

    def exists(self, key: str) -> bool:
        return key in self.data

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def public_url(self, key: str) -> str:
        return f"https://cdn.example.com/{key}"

    def reset(self) -> None:
        self.gets = self.read = self.puts = self.written = 0


Factory = Callable[[MemoryObjects], Any]


def synthetic_entries(n: int, seed: int = 11) -> list[GalleryEntry]:
    rnd = random.Random(seed)
    styles = [s.id for s in STYLES]
    entries = []
    for i in range(n):
        source = SOURCES[i % len(SOURCES)]
        style = styles[rnd.randrange(len(styles))]
        tags = (source if source != "generated_photos" else "ai-generated", *rnd.sample(TAGS, 3))
        if i % 500 == 0:
            tags += ("rare",)  # a tag on 0.2% of the items: a scan for it reads the whole gallery
        if source == "unsplash":
            raw = f"https://images.unsplash.com/photo-{i}?ixid=abc"
            keys: dict[str, str] = {}
            external: dict[str, str] | None = {
                s: f"{raw}&w={s}&h={s}&fit=crop&crop=faces" for s in ("128", "256", "512")
            }
        else:
            keys = {s: f"gallery/{rnd.getrandbits(160):040x}.webp" for s in ("128", "256", "512")}
            external = None
        entries.append(
            GalleryEntry(
                id=f"{source[:4]}-{rnd.getrandbits(48):012x}",
                style=style,
                tags=tags,
                source=source,
                image_keys=keys,
                attribution_name=None if source == "procedural" else f"Photo by Person {i}",
                attribution_url=None if source == "procedural" else f"https://example.com/p/{i}",
                license="CC0-1.0",
                external_urls=external,
            )
        )
    return entries


@dataclass(frozen=True)
class Result:
    implementation: str
    items: int
    listing: str
    times_ms: list[float]  # wall clock
    cpu_ms: list[float]  # this thread's CPU time: without the time other processes held the core

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p99(self) -> float:
        return percentile(self.times_ms, 99)

    @property
    def p999(self) -> float:
        return p999(self.times_ms)

    @property
    def cpu_p99(self) -> float:
        return percentile(self.cpu_ms, 99)

    @property
    def cpu_p999(self) -> float:
        return p999(self.cpu_ms)


def p999(values: Sequence[float]) -> float:
    """The 99.9th percentile (interpolated like ``percentile``): where GC pauses show."""
    return statistics.quantiles(values, n=1000, method="inclusive")[998]


@dataclass(frozen=True)
class Catalog:
    """The published gallery's ids, sorted, overall and per style: what the workloads pick
    cursors and lookups from, once the entries themselves are dropped (so that the objects
    the garbage collector walks are the service's, as in a container)."""

    ids: list[str]
    by_style: dict[str, list[str]]

    @classmethod
    def of(cls, entries: Sequence[GalleryEntry]) -> Catalog:
        by_style: dict[str, list[str]] = {}
        for entry in sorted(entries, key=lambda e: e.id):
            by_style.setdefault(entry.style, []).append(entry.id)
        return cls(sorted(e.id for e in entries), by_style)


def listings(service: Any, catalog: Catalog, rnd: random.Random) -> dict[str, Callable[[], Any]]:
    """One callable per kind of listing; cursor listings start at a random item each call."""
    from chalicelib.services.gallery.catalog import _encode_cursor

    ids = catalog.ids
    anime_ids = catalog.by_style["anime"]

    def deep(pool: list[str], style: str | None) -> Callable[[], Any]:
        return lambda: service.page(style, None, LIMIT, _encode_cursor(pool[rnd.randrange(len(pool))]))

    return {
        "first page": lambda: service.page(None, None, LIMIT, None),
        "style": lambda: service.page("anime", None, LIMIT, None),
        "tag": lambda: service.page(None, "beard", LIMIT, None),
        "style + tag": lambda: service.page("anime", "glasses", LIMIT, None),
        "rare tag": lambda: service.page(None, "rare", LIMIT, None),
        "cursor": deep(ids, None),
        "style + cursor": deep(anime_ids, "anime"),
    }


@dataclass(frozen=True)
class GcStats:
    """The garbage collector during one implementation's timed warm listings."""

    implementation: str
    items: int
    tracked: int  # objects the collector walks in a full collection (the whole process)
    full: int  # full (generation 2) collections during the timed calls
    longest_ms: float


def measure(
    factory: Callable[[MemoryObjects], Any],
    label: str,
    objects: MemoryObjects,
    catalog: Catalog,
    runs: int,
) -> tuple[list[Result], GcStats]:
    """Warm listings: a service that has served each kind once, then ``runs`` timed calls each;
    and what the garbage collector did meanwhile (full collections are the long pauses)."""
    service = factory(objects)
    rnd = random.Random(5)
    calls = listings(service, catalog, rnd)
    for call in calls.values():  # warm up every kind once
        call()
    gc.collect()
    tracked = len(gc.get_objects())
    pauses: list[float] = []
    started = [0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started[0] = time.perf_counter_ns()
            else:
                pauses.append((time.perf_counter_ns() - started[0]) / 1e6)

    gc.callbacks.append(on_gc)
    results = []
    try:
        for name, call in calls.items():
            times, cpu = [], []
            for _ in range(runs):
                begin, begin_cpu = time.perf_counter_ns(), time.thread_time_ns()
                call()
                cpu.append((time.thread_time_ns() - begin_cpu) / 1e6)
                times.append((time.perf_counter_ns() - begin) / 1e6)
            results.append(Result(label, len(catalog.ids), name, times, cpu))
    finally:
        gc.callbacks.remove(on_gc)
    return results, GcStats(label, len(catalog.ids), tracked, len(pauses), max(pauses, default=0.0))


@dataclass(frozen=True)
class ColdResult:
    implementation: str
    request: str
    times_ms: list[float]
    gets: int
    read: int
    puts: int = 0
    written: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)


@dataclass(frozen=True)
class MemoryResult:
    implementation: str
    current: int
    peak: int
    calls: int


def cold_requests(catalog: Catalog) -> dict[str, Callable[[Any], Any]]:
    """The first request of a cold container, one kind each."""
    some = catalog.ids[len(catalog.ids) // 3]
    return {
        "first listing, one style": lambda s: s.page("anime", None, 24, None),
        "first listing, style + tag": lambda s: s.page("anime", "glasses", 24, None),
        "first listing, no style": lambda s: s.page(None, None, 24, None),
        "suggestions (a refusal)": lambda s: s.suggest("anime", "a prompt"),
        "one item by id": lambda s: s.get(some),
        "default avatar": lambda s: s.default_for("user-42"),
    }


def measure_cold(
    factory: Factory,
    label: str,
    objects: MemoryObjects,
    catalog: Catalog,
    *,
    new: Sequence[GalleryEntry],
    runs: int,
) -> list[ColdResult]:
    """Each kind of first request, ``runs`` times on a new service each; then the refresh's
    publish of ``new`` (items of one style)."""
    results = []
    for name, call in cold_requests(catalog).items():
        times = []
        for _ in range(runs):
            service = factory(objects)  # a new container
            gc.collect()
            objects.reset()
            begin = time.perf_counter_ns()
            call(service)
            times.append((time.perf_counter_ns() - begin) / 1e6)
            del service
        results.append(ColdResult(label, name, times, objects.gets, objects.read))
    results.append(measure_refresh(factory, label, objects, new, runs))
    return results


def measure_refresh(
    factory: Factory, label: str, objects: MemoryObjects, new: Sequence[GalleryEntry], runs: int
) -> ColdResult:
    """The refresh's publish of ``new``, on a copy of the store each time."""
    times, store = [], objects
    for _ in range(runs):
        store = MemoryObjects(objects.data)
        service = factory(store)
        gc.collect()
        store.reset()
        begin = time.perf_counter_ns()
        if hasattr(service, "add"):
            service.add(new)
        else:  # HEAD's refresh: every entry read, the whole manifest written again
            service.publish([*service.read_entries(), *new])
        times.append((time.perf_counter_ns() - begin) / 1e6)
    request = f"refresh: publish {len(new)} new items of one style"
    return ColdResult(label, request, times, store.gets, store.read, store.puts, store.written)


def measure_memory(factory: Factory, label: str, objects: MemoryObjects, catalog: Catalog) -> MemoryResult:
    """Gallery memory of a container that has served every kind of request over the whole
    gallery: every page of the unfiltered listing (so every item rendered once), every style,
    tags, 2,000 pages at random cursors, lookups, default avatars and suggestions. Traced with
    ``tracemalloc`` (what Python allocated and still holds, after a full collection)."""
    from chalicelib.services.gallery.catalog import _encode_cursor

    rnd = random.Random(17)
    styles = [s.id for s in STYLES]
    some_ids = rnd.sample(catalog.ids, 200)
    cursors = [(s, _encode_cursor(rnd.choice(catalog.by_style[s]))) for s in rnd.choices(styles, k=2000)]
    gc.collect()
    tracemalloc.start()
    service = factory(objects)
    calls = 0
    cursor = None
    while True:
        page = service.page(None, None, 100, cursor)
        calls += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    for style in styles:
        for tag in (None, "glasses", "rare"):
            service.page(style, tag, 24, None)
            calls += 1
    for style, at in cursors:
        service.page(style, None, 24, at)
        calls += 1
    for n, item_id in enumerate(some_ids):
        service.get(item_id)
        service.default_for(f"user-{n}")
        service.suggest(styles[n % len(styles)], f"prompt {n}")
        calls += 3
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del service
    return MemoryResult(label, current, peak, calls)
