"""What avatarflow measures of itself, read from the benchmarks' recorded results.

The benchmarks record their results in ``docs/benchmarks.md``, one block per benchmark between
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``; this module reads the tables of
those blocks (the same file ``make bench`` rewrites), so the cost model follows each new run.
A number a block no longer has keeps its default (the value recorded when this model was
written), and :attr:`MeasuredCounts.sources` tells which numbers came from the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class MeasuredCounts:
    """Store calls, in-process milliseconds, bytes and ratios per request type (bench/)."""

    # bench/roundtrips.py: REST calls to Upstash per request, and the request's median ms
    # (loopback: the app's own time; the network round trips are added by the model).
    admit_calls: float = 1.0  # POST /v1/generations, cache miss, respond-async
    admit_ms: float = 5.80
    cache_hit_calls: float = 1.0  # POST /v1/generations answered from the cache
    cache_hit_ms: float = 4.75
    status_calls: float = 1.0  # GET /v1/generations/{id}
    status_ms: float = 3.88
    gallery_calls: float = 0.0  # GET /v1/gallery, warm container
    gallery_ms: float = 0.50
    quota_calls: float = 1.0  # GET /v1/me/quota
    quota_ms: float = 3.40
    worker_calls: float = 5.0  # a queued job on a lane worker: claim, 3 phases, finish
    worker_ms: float = 181.39  # with an instant provider: the pipeline, WebP sizes, store calls
    # bench/spike.py: provider calls per accepted request (cache + in-flight dedup).
    spike_accepted: float = 4609.0
    spike_provider_calls: float = 2394.0
    # bench/coldstart.py: the first cache hit on a fresh container as deployed (ms).
    cold_start_ms: float = 360.0
    # bench/images.py: WebP bytes of one generation's 4 sizes (128/256/512/1024), PNG source.
    image_bytes: float = 251_986.0
    # bench/gallery.py: object-store GETs of a cold container's first listing of one style.
    gallery_cold_gets: float = 2.0
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def dedup_saving(self) -> float:
        """The share of accepted requests that cost no provider call (cache hit or joined)."""
        if self.spike_accepted <= 0:
            return 0.0
        return max(0.0, 1.0 - self.spike_provider_calls / self.spike_accepted)


def blocks(text: str) -> dict[str, str]:
    """Each benchmark's block of the file, by name."""
    found = re.finditer(r"<!-- bench:([\w-]+):start -->(.*?)<!-- bench:\1:end -->", text, re.DOTALL)
    return {match.group(1): match.group(2) for match in found}


def tables(block: str) -> Iterator[list[dict[str, str]]]:
    """The markdown tables of a block, each as rows of {header: cell}."""
    lines = [line.strip() for line in block.splitlines()]
    index = 0
    while index + 1 < len(lines):
        header, rule = lines[index], lines[index + 1]
        if header.startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", rule):
            names = _cells(header)
            rows = []
            index += 2
            while index < len(lines) and lines[index].startswith("|"):
                rows.append(dict(zip(names, _cells(lines[index]), strict=False)))
                index += 1
            yield rows
        else:
            index += 1


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def number(cell: str) -> float | None:
    """The first number of a cell (``2,394 / 2,394 / 0`` -> 2394.0); None without one."""
    found = re.search(r"-?\d[\d,]*(?:\.\d+)?", cell)
    return float(found.group(0).replace(",", "")) if found else None


def _row(block: str, text: str) -> dict[str, str] | None:
    """The first table row of the block with ``text`` in one of its cells."""
    for table in tables(block):
        for row in table:
            if any(text in cell for cell in row.values()):
                return row
    return None


Setter = Callable[[dict[str, str]], dict[str, float]]


def _from_cells(**columns: str) -> Setter:
    """Take ``field=column``: the first number of each named column of the row."""

    def read(row: dict[str, str]) -> dict[str, float]:
        values: dict[str, float] = {}
        for name, column in columns.items():
            value = number(row.get(column, ""))
            if value is not None:
                values[name] = value
        return values

    return read


def _second_column(name: str) -> Setter:
    def read(row: dict[str, str]) -> dict[str, float]:
        cells = list(row.values())
        value = number(cells[1]) if len(cells) > 1 else None
        return {} if value is None else {name: value}

    return read


# (block, text of the row, how to read it); the first matching row counts (``current`` before ``HEAD``)
READINGS: tuple[tuple[str, str, Setter], ...] = (
    (
        "roundtrips",
        "cache miss, `Prefer: respond-async`",
        _from_cells(admit_calls="REST calls", admit_ms="median ms"),
    ),
    ("roundtrips", "cache hit (200", _from_cells(cache_hit_calls="REST calls", cache_hit_ms="median ms")),
    (
        "roundtrips",
        "`GET /v1/generations/{id}`",
        _from_cells(status_calls="REST calls", status_ms="median ms"),
    ),
    (
        "roundtrips",
        "`GET /v1/gallery` (warm)",
        _from_cells(gallery_calls="REST calls", gallery_ms="median ms"),
    ),
    ("roundtrips", "`GET /v1/me/quota`", _from_cells(quota_calls="REST calls", quota_ms="median ms")),
    (
        "roundtrips",
        "a queued job run by a lane worker",
        _from_cells(worker_calls="REST calls", worker_ms="median ms"),
    ),
    ("spike", "accepted (200 + 202)", _second_column("spike_accepted")),
    ("spike", "provider calls / distinct requests", _second_column("spike_provider_calls")),
    ("coldstart", "first cache hit as deployed", _from_cells(cold_start_ms="now (ms)")),
    ("images", "PNG", _from_cells(image_bytes="WebP bytes (4 sizes)")),
    ("gallery", "first listing, one style", _from_cells(gallery_cold_gets="GETs")),
)


def parse(text: str) -> MeasuredCounts:
    """The counts of a ``docs/benchmarks.md`` text; defaults where a number is missing."""
    by_name = blocks(text)
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for name, text_of_row, read in READINGS:
        row = _row(by_name.get(name, ""), text_of_row)
        if row is None:
            continue
        for key, value in read(row).items():
            values[key] = value
            sources[key] = f"docs/benchmarks.md, bench:{name}"
    known = {f.name for f in fields(MeasuredCounts)}
    return replace(MeasuredCounts(), **{k: v for k, v in values.items() if k in known}, sources=sources)


def load_counts(path: Path = BENCHMARKS) -> MeasuredCounts:
    """The counts recorded in ``path`` (defaults alone if the file is missing)."""
    return parse(path.read_text()) if path.exists() else MeasuredCounts()
