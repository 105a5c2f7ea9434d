"""Benchmark of the gallery: warm listings, a cold container's first requests, and memory.

Run from the repository root::

    .venv/bin/python -m bench.gallery            # print the tables
    .venv/bin/python -m bench.gallery --write    # ... and update docs/benchmarks.md

It publishes a synthetic gallery (500, 20,000 and 100,000 items over every style, with tags,
mixed sources) to an in-memory object store, then times ``page()`` calls on a warm service
(wall clock and CPU time) for each kind of listing the API serves: the first page,
a style, a tag, a style and a tag, and pages deep in the gallery through a cursor. The cursors
are drawn at random over the whole gallery, so most timed pages show items for the first time.
At 100,000 items it also times the first request of a cold container (a new service) of each
kind, with the object-store GETs and bytes it needs; the refresh's publish of new items of one
style; and the gallery memory (``tracemalloc``) of a container that has served every kind of
request over the whole gallery (bench/gallery_workload.py). The same workload runs against the
implementation at git ``HEAD`` when it differs (``--no-baseline`` skips it), side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import importlib.util
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.gallery_workload import (
    LIMIT,
    MIB,
    Catalog,
    ColdResult,
    GcStats,
    MemoryObjects,
    MemoryResult,
    Result,
    measure,
    measure_cold,
    measure_memory,
    synthetic_entries,
)
from bench.report import (
    DOC,
    command_line,
    machine,
    markdown_table,
    pin_to_one_core,
    write_section,
)
from chalicelib.adapters.storage.gallery_layout import SAMPLE_SIZE
from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore
from chalicelib.domain.styles import STYLES
from chalicelib.services.gallery.cache import RENDERED_ITEMS, SHARD_BUDGET
from chalicelib.services.gallery.catalog import GalleryService

SIZES: tuple[int, ...] = (500, 20_000, 100_000)
TARGET_AT = 100_000
TARGET_P99_MS = 2.0  # warm, every kind of listing
TARGET_COLD_STYLE_MS = 50.0  # a cold container's first listing of one style
TARGET_MEMORY_MIB = 64.0  # gallery memory per container
SECTION = "gallery"
SECTION_HEADING = "## Gallery listing (bench/gallery.py)"


# --- the warm workload ----------------------------------------------------------------------


def current(objects: MemoryObjects) -> GalleryService:
    return GalleryService(ObjectGalleryStore(objects), revalidate_seconds=1e9)


def head_implementation() -> Callable[[MemoryObjects], Any] | None:
    """``GalleryService`` as committed at ``HEAD``, if git has it and it differs from ours."""
    here = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", "HEAD:chalicelib/services/gallery/catalog.py"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if source == (here / "chalicelib" / "services" / "gallery.py").read_text():
        return None
    path = Path(tempfile.mkdtemp()) / "gallery_at_head.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("bench_gallery_at_head", path)
    if spec is None or spec.loader is None:
        return None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    head_service: Any = module.GalleryService
    return lambda objects: head_service(objects, revalidate_seconds=1e9)


# --- reporting ------------------------------------------------------------------------------


def warm_table(results: Sequence[Result]) -> str:
    header = [
        "implementation",
        "items",
        "listing",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "CPU p99 ms",
        "CPU p99.9 ms",
    ]
    rows = [
        [
            r.implementation,
            f"{r.items:,}",
            r.listing,
            f"{r.p50:.3f}",
            f"{r.p99:.3f}",
            f"{r.p999:.3f}",
            f"{r.cpu_p99:.3f}",
            f"{r.cpu_p999:.3f}",
        ]
        for r in results
    ]
    return markdown_table(header, "lrlrrrrr", rows)


def gc_table(results: Sequence[GcStats]) -> str:
    header = ["implementation", "items", "objects tracked by the GC", "full collections", "longest ms"]
    rows = [
        [r.implementation, f"{r.items:,}", f"{r.tracked:,}", str(r.full), f"{r.longest_ms:.1f}"]
        for r in results
    ]
    return markdown_table(header, "lrrrr", rows)


def cold_table(results: Sequence[ColdResult]) -> str:
    header = [
        "implementation",
        "request (cold container)",
        "median ms",
        "max ms",
        "GETs",
        "MiB read",
        "PUTs",
        "MiB written",
    ]
    rows = [
        [
            r.implementation,
            r.request,
            f"{r.median:.1f}",
            f"{max(r.times_ms):.1f}",
            str(r.gets),
            f"{r.read / MIB:.2f}",
            str(r.puts) if r.puts else "-",
            f"{r.written / MIB:.2f}" if r.puts else "-",
        ]
        for r in results
    ]
    return markdown_table(header, "llrrrrrr", rows)


def memory_table(results: Sequence[MemoryResult]) -> str:
    header = ["implementation", "items", "requests served", "gallery memory MiB", "peak MiB"]
    rows = [
        [r.implementation, f"{TARGET_AT:,}", f"{r.calls:,}", f"{r.current / MIB:.1f}", f"{r.peak / MIB:.1f}"]
        for r in results
    ]
    return markdown_table(header, "lrrrr", rows)


def targets(
    warm: Sequence[Result], cold: Sequence[ColdResult], memory: Sequence[MemoryResult]
) -> list[tuple[str, bool, str]]:
    """Each target at 100,000 items: (what, met, measured)."""
    ours = [r for r in warm if r.implementation == "current" and r.items == TARGET_AT]
    worst = max(ours, key=lambda r: r.p99)
    worst_cpu = max(ours, key=lambda r: r.cpu_p99)
    first = {r.request: r for r in cold if r.implementation == "current"}
    style = first["first listing, one style"]
    suggestions = first["suggestions (a refusal)"]
    mem = next(m for m in memory if m.implementation == "current")
    return [
        (
            f"warm p99 ≤ {TARGET_P99_MS:.0f} ms, wall clock",
            worst.p99 <= TARGET_P99_MS,
            f"worst: {worst.listing}, p99 {worst.p99:.3f} ms, p99.9 {worst.p999:.3f} ms",
        ),
        (
            f"warm p99 ≤ {TARGET_P99_MS:.0f} ms, CPU time",
            worst_cpu.cpu_p99 <= TARGET_P99_MS,
            f"worst: {worst_cpu.listing}, p99 {worst_cpu.cpu_p99:.3f} ms, p99.9 {worst_cpu.cpu_p999:.3f} ms",
        ),
        (
            f"cold first listing of one style ≤ {TARGET_COLD_STYLE_MS:.0f} ms",
            max(style.times_ms) <= TARGET_COLD_STYLE_MS,
            f"median {style.median:.1f} ms, max {max(style.times_ms):.1f} ms, {style.gets} GETs",
        ),
        (
            f"gallery memory ≤ {TARGET_MEMORY_MIB:.0f} MiB",
            mem.current <= TARGET_MEMORY_MIB * MIB,
            f"{mem.current / MIB:.1f} MiB (peak {mem.peak / MIB:.1f} MiB)",
        ),
        (
            "suggestions on a cold container read no shard",
            suggestions.gets == 1,
            f"{suggestions.gets} GET, {suggestions.read / MIB:.3f} MiB",
        ),
    ]


def report(
    warm: Sequence[Result],
    cold: Sequence[ColdResult],
    memory: Sequence[MemoryResult],
    collections: Sequence[GcStats],
    *,
    runs: int,
    cold_runs: int,
    pinned: str,
    command: str,
) -> str:
    met = targets(warm, cold, memory)
    return "\n".join(
        [
            f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- machine: {machine()}; {pinned}",
            f"- Python {platform.python_version()}",
            f"- gallery: synthetic, over {len(STYLES)} styles, 4 tags per item (one in 500 also `rare`), 4 sources "
            "(a quarter procedural, a quarter hotlinked); the object store is in memory (a GET is a copy of "
            "the object: no network, so on R2 add the transfer of the MiB read)",
            "- current = the index (`gallery/index.json`: per style its shard's key, counts and a sample of "
            f"{SAMPLE_SIZE} items) and one content-addressed JSON Lines shard per style, read when a request "
            "needs that style; items parsed and rendered when a page shows them (a bounded LRU of "
            f"{RENDERED_ITEMS:,} rendered items), shards held within a {SHARD_BUDGET // MIB} MiB budget; a "
            "locator (id → style) for lookups by id. HEAD = the "
            "implementation before this change: one manifest, downloaded, parsed and indexed whole by every "
            "container (and every rendered item kept)",
            "- targets at 100,000 items: "
            + "; ".join(f"{what}: {'met' if ok else 'NOT met'} ({value})" for what, ok, value in met),
            "- revalidation: no call at all within the 60 s interval; after it, one GET of `gallery:version` in "
            "the state store, and the index is read again only if that changed (shards are content-addressed: "
            "a new version costs a container only the shards that changed)",
            "",
            f"Warm listings: `GalleryService.page(style, tag, limit={LIMIT}, cursor)` after one call of each kind, "
            f"{runs} timed calls per listing: wall clock, and the thread's CPU time (`time.thread_time_ns`: "
            "garbage collection included, the time other processes held the core not; on a shared machine a "
            "call that loses the core waits a scheduler slice of about 4 ms); cursor listings start at a "
            "random item each call, so most pages render their items for the first time; `rare tag` is a tag "
            "on 0.2% of the items.",
            "",
            warm_table(warm),
            "",
            "The garbage collector during those timed calls: the objects a full collection walks (the whole "
            "process, after the warm-up), how many full collections ran, and the longest (`gc.callbacks`).",
            "",
            gc_table(collections),
            "",
            f"A cold container at {TARGET_AT:,} items: its first request of each kind, on a new service each "
            f"time ({cold_runs} times each, wall clock, including the object-store reads and parsing), and the "
            "refresh's publish of new items of one style (HEAD: every entry read, the manifest written again).",
            "",
            cold_table(cold),
            "",
            "Gallery memory of one container after it served every page of the unfiltered listing (every item "
            "rendered once), each style with and without tags, 2,000 pages at random cursors, 200 lookups by id, "
            "default avatars and suggestions: `tracemalloc`, after a full collection (peak: during the run).",
            "",
            memory_table(memory),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gallery", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="timed calls per warm listing and size")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold containers per kind of request")
    parser.add_argument("--no-baseline", action="store_true", help="skip the implementation at git HEAD")
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(DOC.parents[1])}")
    args = parser.parse_args(argv)
    if args.runs < 1000:
        parser.error("--runs must be at least 1000 (for a p99.9)")
    if args.cold_runs < 1:
        parser.error("--cold-runs must be at least 1")

    pinned = pin_to_one_core()
    implementations: list[tuple[str, Callable[[MemoryObjects], Any]]] = [("current", current)]
    head = None if args.no_baseline else head_implementation()
    if head is not None:
        implementations.append(("HEAD", head))
    new = [dataclasses.replace(e, style="anime") for e in synthetic_entries(60, seed=99)]
    warm: list[Result] = []
    collections: list[GcStats] = []
    cold: list[ColdResult] = []
    memory: list[MemoryResult] = []
    for n in SIZES:
        entries = synthetic_entries(n)
        stores = {label: MemoryObjects() for label, _ in implementations}
        for label, factory in implementations:
            factory(stores[label]).publish(entries)  # another process publishes ...
        catalog = Catalog.of(entries)
        del entries  # ... and a Lambda, which holds none of the writer's objects, serves
        gc.collect()
        for label, factory in implementations:
            listed, collector = measure(factory, label, stores[label], catalog, args.runs)
            warm += listed
            collections.append(collector)
            if n == TARGET_AT:
                cold += measure_cold(factory, label, stores[label], catalog, new=new, runs=args.cold_runs)
                memory.append(measure_memory(factory, label, stores[label], catalog))
            print(f"measured {label} at {n:,} items", file=sys.stderr)
        del stores
    command = command_line("bench.gallery", argv)
    body = report(
        warm,
        cold,
        memory,
        collections,
        runs=args.runs,
        cold_runs=args.cold_runs,
        pinned=pinned,
        command=command,
    )
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
        print(f"\nwrote {DOC}")
    return 0 if all(ok for _, ok, _ in targets(warm, cold, memory)) else 1


if __name__ == "__main__":
    sys.exit(main())
