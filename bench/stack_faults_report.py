"""The fault phases' table and the text recorded in docs/benchmarks.md
(``python -m bench.stack_spike --fault all``; bench/stack_faults.py runs the phases).
"""

from __future__ import annotations

import datetime as dt
import platform
from typing import Any

from bench.report import machine, markdown_table
from bench.stack_faults import fault_verdict


def _counts(counter: dict[Any, int]) -> str:
    return ", ".join(f"{k}: {n}" for k, n in sorted(counter.items(), key=lambda kv: str(kv[0]))) or "none"


def fault_report(r: dict[str, Any], command: str) -> str:
    p = r["params"]
    rows = []
    for ph in r["phases"]:
        t503 = "no 503" if ph["time_to_503_s"] is None else f"{ph['time_to_503_s']:.1f} s"
        ghosts = f"{len(ph['ghosts'])}"
        if ph["ghosts"]:
            ghosts += f" ({_counts(ph['ghost_statuses'])}; {ph['ghosts_charged']} still charged)"
        lost = f"{len(ph['lost'])}"
        if ph["lost"]:
            lost += (
                f" ({_counts(ph['lost_statuses'])}; {ph['lost_unclaimed']} never claimed by a lane, "
                f"{ph['lost_wait_given_up']} answered 202 to a request that asked to wait)"
            )
        checks = fault_verdict(ph)
        rows.append(
            (
                ph["fault"],
                f"{ph['fault_s']:.1f} s",
                _counts(ph["during"]),
                t503,
                f"{ph['accepted']} of {ph['requests']} ({_counts(ph['status_counts'])})",
                lost,
                f"{len(ph['double_charged'])} / {len(ph['under_charged'])}",
                ghosts,
                f"{ph['dlq_depth']} (+{ph['dlq_added']})",
                f"{ph['drained_s']:.0f} s" + ("" if not ph["open_left"] else f", {ph['open_left']} open"),
                "yes" if ph["recovered"] else "NO",
                "pass"
                if all(checks.values())
                else "FAIL: " + "; ".join(k for k, ok in checks.items() if not ok),
            )
        )
    table = markdown_table(
        [
            "fault",
            "lasted",
            "answers during it",
            "time to a 503",
            "accepted of sent (all answers)",
            "lost jobs",
            "double / under-charged",
            "ghost jobs",
            "DLQ depth",
            "accepted jobs ended after",
            "answers again",
            "checks",
        ],
        "llllllllllll",
        rows,
    )
    return "\n".join(
        [
            f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- machine: {machine()}; Python {platform.python_version()}; load average "
            f"{r['load_average']:.0f} at the end (the cores are shared)",
            f"- setup: one `make stack` ({p['api']} API processes, {p['workers_per_lane']} lane worker per lane, "
            f"stand-ins at {p['latency_ms']} ms per image); per fault, {p['requests']} requests from "
            f"{p['identities']} identities of their own through {p['threads']} client threads, no "
            f"`Idempotency-Key`, the fault injected after {p['at_share']:.0%} of the burst was answered; "
            f"stops last {p['pause_s']:g} s; scaled timings: visibility timeout {p['visibility_timeout_s']} s, "
            f"lease {p['lease_s']} s, reaper every {p['reaper_every_s']} s, job deadline {p['job_deadline_s']} s; "
            f"the whole run took {r['total_s']:.0f} s",
            "- reading: *answers during it* are those received while the part was stopped or down "
            "(the whole burst for the silent provider; 0 is a connection that failed). *Lost*: accepted "
            "(200/202 with an id) and not succeeded. *Ghost jobs*: generations of the phase's identities "
            "that no client got an id for (a request answered with an error that still made a job; "
            "*still charged* counts those not refunded when measured). *DLQ depth*: all lanes' DLQs at "
            "the phase's end (+ added during it). Jobs still open that have not moved for "
            f"{p['quiet_s']:g} s while every lane's queue is empty count as *lost* without waiting for their "
            "deadline (nothing would end them before it)",
            "",
            table,
        ]
    )
