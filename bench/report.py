"""What the benchmarks share to report: their section of docs/benchmarks.md, the machine, tables.

Each benchmark owns one block of ``docs/benchmarks.md``, between ``<!-- bench:{name}:start -->``
and ``<!-- bench:{name}:end -->`` under its own heading; ``write_section`` rewrites that block and
leaves the rest of the file alone.
"""

from __future__ import annotations

import math
import os
import platform
import re
import shlex
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of benchmark ``name``'s block."""
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def write_section(name: str, heading: str, body: str, doc: Path = DOC) -> None:
    """Replace benchmark ``name``'s block in ``doc`` with ``body``, leaving every other section alone.

    Without both markers (in order), the block goes right under ``heading`` if the file has that
    heading, else the heading and the block are appended; a missing file starts as ``# Benchmarks``.
    """
    start, end = markers(name)
    block = f"{start}\n{body}\n{end}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if start in text and end in text and text.index(start) < text.index(end):
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = f"{head}{block}{tail}"
    elif heading in text:
        text = text.replace(heading, f"{heading}\n\n{block}", 1)
    else:
        text = f"{text.rstrip()}\n\n{heading}\n\n{block}\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def command_line(module: str, argv: Sequence[str] | None) -> str:
    """How to run this benchmark again, with the arguments it was given."""
    given = sys.argv[1:] if argv is None else list(argv)
    return shlex.join([".venv/bin/python", "-m", module, *given])


def machine() -> str:
    """CPU model, architecture, core count and kernel, for the report."""
    name = platform.processor()
    if not name or name == platform.machine():
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        name = found.group(1).strip() if found else name or "unknown CPU"
    return f"{name} ({platform.machine()}), nproc={os.cpu_count()}, Linux {platform.release()}"


def pin_to_one_core() -> str:
    """Pin this process to one CPU where the OS allows it; says what happened, for the report."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    core = min(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(0, {core})
    except OSError as exc:
        return f"not pinned ({exc})"
    return f"pinned to CPU {core}"


def percentile(values: Sequence[float], pct: int) -> float:
    """The ``pct``-th percentile (1-99), interpolated like ``statistics.quantiles(method="inclusive")``.

    Computed with the fewest quantiles that contain it (p90 is the 9th of 10, p50 the median), so
    it is exactly what ``statistics.quantiles(values, n=10, method="inclusive")[8]`` gives for p90.
    Needs at least two values.
    """
    if not 0 < pct < 100:
        raise ValueError(f"percentile must be between 1 and 99, not {pct}")
    n = 100 // math.gcd(pct, 100)
    return statistics.quantiles(values, n=n, method="inclusive")[pct * n // 100 - 1]


def markdown_table(header: Sequence[str], align: str, rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; ``align`` has one letter per column: ``l`` (``---``) or ``r`` (``---:``)."""
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align needs one of 'l' or 'r' per column, got {align!r}")

    def line(cells: Sequence[str]) -> str:
        return f"| {' | '.join(cells)} |"

    lines = [line(header), line(["---:" if a == "r" else "---" for a in align])]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(header)} columns: {row!r}")
        lines.append(line(row))
    return "\n".join(lines)
