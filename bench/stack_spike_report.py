"""The crash spike's checks (the verdict) and the text recorded in docs/benchmarks.md
(``python -m bench.stack_spike``, bench/stack_spike.py, runs the spike).
"""

from __future__ import annotations

import datetime as dt
import platform
from typing import Any

from bench.report import machine, markdown_table


def verdict(r: dict[str, Any]) -> dict[str, bool]:
    """Each check of the run: True where it passed."""
    return {
        "no identity charged beyond its quota": not r["over_quota"],
        "every accepted job terminal within the job deadline": r["open_left"] == 0 and not r["late"],
        "no job left open in the store": r["store_open_left"] == 0,
        "zero duplicate provider calls": not r["duplicates"],
        "zero lost jobs (accepted, then not succeeded)": not r["lost"],
        "zero double-charged jobs": not r["double_charged"] and not r["under_charged"],
        "DLQs empty": not any(r["dlq_depths"].values()),
        "no process left after the stack stopped": not r.get("leftover_processes"),
    }


READING = (
    "- reading: every process of the stack, the client threads and whatever else runs on the machine "
    "share its cores (load average {load}): throughput and latency measure the topology under "
    "contention, not AWS. The p99 is requests that asked to wait and joined an identical job queued "
    "behind the burst. The killed API process costs its in-flight requests a 502 (their jobs, if "
    "admitted, end like any other and the ledger check counts their charge); the killed worker's "
    "batch comes back after one visibility timeout. Before the fixes this run drove "
    '(docs/operations.md, "What the stack found"), the same crashes left jobs failed at their '
    "deadline (refunded) and answered joined requests 503"
)


def report(r: dict[str, Any], command: str) -> str:
    checks = verdict(r)
    p = r["params"]
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(r["status_counts"].items()))
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(r["codes"].items())) or "none"
    finals = ", ".join(f"{s}: {n}" for s, n in sorted(r["final_statuses"].items()))
    tiers = ", ".join(f"{n} {tier}" for tier, n in sorted(r["tiers"].items()))
    crashes = (
        "; ".join(
            f"{c['name']} after {c['after_requests']:,} requests (running again {c['restart_s']:.1f} s later)"
            for c in r["crashes"]
        )
        or "none"
    )
    accepted = max(1, r["accepted"])
    sqs = ", ".join(f"{k.split(':', 1)[1]} {n:,}" for k, n in sorted(r["sqs_by_action"].items()))
    measures = [
        ("responses by status", statuses),
        ("refusals by code", codes),
        ("accepted (200 + 202)", f"{r['accepted']:,}"),
        (
            "of which made in the wait (200) / cache hit or finished join (200, `cached`) / 202",
            f"{r['accepted_sync_200']:,} / {r['accepted_cached']:,} / {r['accepted_202']:,}",
        ),
        ("accepted-request latency p50 / p99 (ms, client side)", f"{r['p50']:.1f} / {r['p99']:.1f}"),
        ("burst duration / throughput", f"{r['burst_s']:.1f} s / {r['requests'] / r['burst_s']:.0f} req/s"),
        ("every accepted job ended after", f"{r['drained_s']:.1f} s ({finals})"),
        ("crashes (SIGKILL)", crashes),
        ("Upstash REST calls per accepted request", f"{r['upstash_calls'] / accepted:.1f} ({r['upstash_calls']:,})"),
        ("SQS requests per accepted request", f"{r['sqs_requests'] / accepted:.2f} ({sqs})"),
        (
            "provider calls / distinct requests / duplicate calls",
            f"{r['provider_calls']:,} / {r['distinct_requests']:,} / {len(r['duplicates'])}",
        ),
        ("webhooks delivered (provider:status)", ", ".join(f"{k} {n:,}" for k, n in sorted(r["webhooks"].items()))),
        ("lost / late / double-charged / under-charged jobs",
         f"{len(r['lost'])} / {len(r['late'])} / {len(r['double_charged'])} / {len(r['under_charged'])}"),
        ("identities over quota", str(len(r["over_quota"]))),
        ("DLQ depths", ", ".join(f"{lane} {n}" for lane, n in sorted(r["dlq_depths"].items()))),
        ("processes left after the stop", str(len(r.get("leftover_processes", [])))),
    ]  # fmt: skip
    failed = [name for name, ok in checks.items() if not ok]
    return "\n".join(
        [
            f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- machine: {machine()}; Python {platform.python_version()}",
            f"- setup: `make stack` topology: {p['api']} API processes behind the round-robin front, "
            f"{p['workers_per_lane']} lane workers per lane (Lambda's SQS event source mapping, batch "
            f"sizes as declared), Upstash REST in front of redis-server, SQS + S3 on moto's server, "
            f"fal + Replicate stand-ins ({p['latency_ms']} ms per image, webhooks to the front); "
            f"{r['requests']:,} requests from {p['identities']} identities ({tiers}) through "
            f"{p['threads']} client threads, half `Prefer: respond-async`, 3 in 10 a trending look; "
            f"scaled timings: visibility timeout {p['visibility_timeout_s']} s, job lease and lane function "
            f"timeout {p['lease_s']} s, "
            f"reaper every {p['reaper_every_s']} s, job deadline {p['job_deadline_s']} s",
            f"- verdict: {'all checks passed' if not failed else 'CHECKS FAILED: ' + '; '.join(failed)} "
            f"({'; '.join(checks)})",
            READING.format(
                load=f"{r['load_average']:.0f} at the end of the burst" if "load_average" in r else "n/a"
            ),
            "",
            markdown_table(["measure", "value"], "lr", measures),
        ]
    )
