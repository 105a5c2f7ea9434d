"""State store round trips per request, on the production Upstash adapter, through the REST harness.

Run from the repository root::

    .venv/bin/python -m bench.roundtrips            # print the table
    .venv/bin/python -m bench.roundtrips --write    # ... and update docs/benchmarks.md

Upstash bills per command and every REST call is a network round trip, so the number that matters is
REST calls per request. The bench starts the embedded Redis, the Upstash REST harness of the tests
(``tests/upstash_harness.py``) in front of it, and the app on ``chalice.test.Client`` with the store
``RedisStateStore(UpstashClient(...))`` and the in-process worker not started. For each request type it
counts the REST calls the harness received from the start of the request to its response, the request
bytes, and the latency per request (median over ``--runs``, loopback). In the same run, the ecosystem
baseline: ``upstash_ratelimit`` with an hourly and a daily ``FixedWindow`` on one ``upstash_redis``
client, plus a cache ``GET`` - what a cache miss costs when the limits are checked the usual way.

The parts: bench/roundtrips_harness.py (the app, the REST harness, the call counter),
bench/roundtrips_rows.py (the requests measured and their targets), bench/roundtrips_report.py (the
table and the text recorded in docs/benchmarks.md); this module is the command line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.report import DOC, command_line, write_section
from bench.roundtrips_harness import running_bench
from bench.roundtrips_report import report
from bench.roundtrips_rows import measure

ROOT = Path(__file__).resolve().parents[1]
SECTION = "roundtrips"
SECTION_HEADING = "## State store round trips on Upstash (bench/roundtrips.py)"


def baseline_calls(ref: str, runs: int) -> dict[str, str]:
    """The REST calls of each row that commit ``ref``'s own bench measures (run from a temporary
    worktree with this virtualenv), by the row's label."""
    with tempfile.TemporaryDirectory() as parent:
        path = Path(parent) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True, capture_output=True
        )
        try:
            done = subprocess.run(
                [sys.executable, "-m", "bench.roundtrips", "--runs", str(runs)],
                cwd=path,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)],
                cwd=ROOT,
                check=False,
                capture_output=True,
            )
    found = {}
    for line in done.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1][:1].isdigit():
            found[cells[0]] = cells[1]
    if not found:
        raise SystemExit(f"the bench of {ref} printed no table:\n{done.stderr[-2000:]}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.roundtrips", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="requests per row")
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(DOC.parents[1])}")
    parser.add_argument("--baseline", help="a git ref whose own bench runs first, for a 'before' column")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    for name in list(os.environ):  # a developer's real credentials must not reach the bench
        if name.startswith(("UPSTASH_", "AVATARFLOW_", "R2_")):
            os.environ.pop(name)

    before = baseline_calls(args.baseline, args.runs) if args.baseline else None
    with tempfile.TemporaryDirectory(prefix="bench-roundtrips-") as tmp, running_bench(Path(tmp)) as bench:
        rows, extra = measure(bench, args.runs)
    command = command_line("bench.roundtrips", argv)
    body = report(rows, extra, runs=args.runs, command=command, before=before, ref=args.baseline or "")
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
        print(f"\nwrote {DOC}")
    return 0 if all(r.verdict in ("", "met") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
