"""A viral spike against the production topology on one machine (``make stack``), with crashes.

The stack (``stack/``): the app in several API processes behind a round-robin front, on its
production adapters over their real wire protocols (Upstash REST in front of a real redis-server,
SQS and S3 on moto's server, fal and Replicate stand-ins with webhooks), lane workers emulating
Lambda's SQS event source mapping, the schedules on timers. A burst of generation requests from
many identities (``bench/spike.py``'s mix: half ``Prefer: respond-async``, 3 in 10 a trending
look) goes through the front from a pool of client threads; during the burst one lane worker and
one API process are killed with SIGKILL, and the supervisor starts them again.

Checked afterwards (from the store, the queues and the stand-ins, not from the app's answers): no
identity charged beyond its quota; every accepted job terminal within the job deadline; zero
duplicate provider calls; zero lost jobs (accepted and never ended, or ended failed) and zero
double-charged jobs (each identity's quota counters equal its jobs that hold a charge); the DLQs
empty; no process left once the stack stops. Recorded: accepted p50/p99, throughput, Upstash calls
and SQS requests per accepted request.

``.venv/bin/python -m bench.stack_spike [--requests 5000 --identities 500] [--write]``

``--fault all`` (or ``--fault store-stop --fault queue-stop`` ...) runs the fault phases of
``bench/stack_faults.py`` instead (short bursts: a few minutes), and ``--write`` records them in
their own block.

The parts: bench/stack_probes.py (the burst's request, the stack's counters, queues and quota ledger),
bench/stack_spike_report.py (the checks and the recorded text), bench/stack_faults.py and
bench/stack_faults_report.py (the fault phases and their table).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.report import DOC, command_line, write_section
from bench.spike import Outcome, percentile, plan
from bench.stack_faults import FAULTS
from bench.stack_probes import dlq_depths, get_json, identities, ledger, post_generation, stack_counts
from bench.stack_spike_report import report, verdict

SECTION = "stack-spike"
SECTION_HEADING = "## A spike on the production topology, with crashes (bench/stack_spike.py)"


@dataclasses.dataclass(frozen=True)
class SpikeParams:
    requests: int = 5000
    identities: int = 500
    threads: int = 32
    api: int = 3
    workers_per_lane: int = 2
    seed: int = 20261130
    crash_worker: bool = True
    crash_api: bool = True
    latency_ms: str = "200-800"
    # Shorter than the deployment's (720 s visibility, 120 s lease, 2 min reaper) so that a killed
    # worker's batch comes back within the run; the ratios are the deployment's (lease < visibility).
    visibility_timeout_s: int = 20
    lease_s: int = 10
    reaper_every_s: int = 5
    job_deadline_s: int = 300
    drain_timeout_s: float = 360.0
    log_level: str = "WARNING"  # the app's: INFO to read a lost job's story in the stack's logs
    keep_logs: bool = True  # the stack's directory (its logs) stays for a look afterwards

    def stack_args(self) -> list[str]:
        return [
            "--api", str(self.api),
            "--workers-per-lane", str(self.workers_per_lane),
            "--latency-ms", self.latency_ms,
            "--visibility-timeout", str(self.visibility_timeout_s),
            "--lane-timeout", str(self.lease_s),  # as deployed: the lease is the lane functions' timeout
            "--every", f"reaper={self.reaper_every_s}",
            "--log-level", self.log_level,
            "--env", f"AVATARFLOW_JOB_LEASE_SECONDS={self.lease_s}",
            # The claim must outlast a provider call (the settings refuse it otherwise): the
            # deadline scales down with the lease, as in docs/operations.md.
            "--env", f"AVATARFLOW_PROVIDER_DEADLINE_SECONDS={max(1, self.lease_s - 2)}",
            "--env", f"AVATARFLOW_JOB_DEADLINE_SECONDS={self.job_deadline_s}",
            # The dev stage's budget ($5 a day) would refuse most of a spike: the spend guard is
            # not what this run measures.
            "--env", "AVATARFLOW_DAILY_BUDGET_USD=100000",
            "--env", "AVATARFLOW_MONTHLY_BUDGET_USD=1000000",
        ]  # fmt: skip


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run(params: SpikeParams, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Start the stack, fire the burst with the crashes, check, stop the stack; the results."""
    from stack.running import running_stack

    with running_stack(*params.stack_args(), keep_logs=params.keep_logs) as stack:
        result = _run_on(stack, params, log)
    result["leftover_processes"] = stack.leftovers
    return result


def _run_on(stack: Any, params: SpikeParams, log: Callable[[str], None]) -> dict[str, Any]:
    import redis

    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.redis_store import RedisStateStore

    state = stack.state()
    front = state["front"]
    store = RedisStateStore(
        RedisPyClient(redis.Redis(unix_socket_path=state["upstash"]["redis_socket"])),
        prefix=state["key_prefix"],
    )
    tiers, tokens = identities(state, params.identities, "spike")
    work = plan(params.requests, params.identities, params.seed)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    local = threading.local()
    before = stack_counts(state)

    def send(item: tuple[int, dict[str, Any], bool]) -> None:
        who, body, respond_async = item
        started = time.perf_counter()
        status, payload = post_generation(local, front, tokens[who], body, respond_async)
        outcome = Outcome(
            identity=f"u:spike-{who}",
            status=status,
            ms=(time.perf_counter() - started) * 1000,
            generation_id=payload.get("id"),
            cached=bool(payload.get("cached")),
            code=(payload.get("error") or {}).get("code"),
        )
        with lock:
            outcomes.append(outcome)

    crashes: list[dict[str, Any]] = []

    def crash_when(share: float, name: str) -> None:
        while True:
            with lock:
                done = len(outcomes)
            if done >= share * len(work):
                break
            time.sleep(0.05)
        pid = stack.crash(name)
        at = done
        restart_s = stack.wait_restarted(name, pid)
        crashes.append({"name": name, "after_requests": at, "restart_s": restart_s})
        log(f"killed {name} (pid {pid}) after {at} requests; running again after {restart_s:.1f} s")

    crashers = []
    if params.crash_worker:
        # The free lane carries most of the queued work: its first worker is the one to lose.
        crashers.append(threading.Thread(target=crash_when, args=(0.3, stack.names("lane-free-")[0])))
    if params.crash_api:
        crashers.append(threading.Thread(target=crash_when, args=(0.5, stack.names("api-")[-1])))
    burst_started = time.perf_counter()
    for thread in crashers:
        thread.start()
    with ThreadPoolExecutor(max_workers=params.threads) as pool:
        list(pool.map(send, work))
    burst_s = time.perf_counter() - burst_started
    load_average = os.getloadavg()[0]  # the cores are shared: how busy they were
    for thread in crashers:
        thread.join()
    log(f"burst of {len(work)} requests done in {burst_s:.1f} s")

    accepted = [o for o in outcomes if o.status in (200, 202) and o.generation_id]
    accepted_ids = sorted({o.generation_id for o in accepted if o.generation_id})
    drain_deadline = time.monotonic() + params.drain_timeout_s
    while True:
        statuses = []
        for start in range(0, len(accepted_ids), 200):
            statuses += store.generations.statuses(accepted_ids[start : start + 200])
        open_now = sum(1 for s in statuses if s not in ("succeeded", "failed"))
        store_open = store.generations.open_ids()
        if (open_now == 0 and not store_open) or time.monotonic() > drain_deadline:
            break
        time.sleep(0.5)
    drained_s = time.perf_counter() - burst_started
    after = stack_counts(state)
    log(f"every job ended after {drained_s:.1f} s" if open_now == 0 else f"{open_now} jobs still open")

    # -- the checks, from the store ---------------------------------------------------------------
    generations = {gid: store.generations.get(gid) for gid in accepted_ids}
    lost = [gid for gid, g in generations.items() if g is None or g.status != "succeeded"]
    late = []
    for gid, g in generations.items():
        created, completed = (_parse_time(g.created_at), _parse_time(g.completed_at)) if g else (None, None)
        if created is None or completed is None or completed - created > params.job_deadline_s:
            late.append(gid)
    over_quota, double_charged, under_charged = ledger(store, tiers, params.identities)
    dlqs = dlq_depths(state)
    providers = get_json(state["providers"]["stats_url"])
    upstash_calls = sum(after["upstash"].values()) - sum(before["upstash"].values())
    sqs_requests = {
        k: after["aws"].get(k, 0) - before["aws"].get(k, 0) for k in after["aws"] if k.startswith("sqs:")
    }
    latencies = [o.ms for o in accepted]
    return {
        "params": dataclasses.asdict(params),
        "requests": len(outcomes),
        "tiers": Counter(tiers),
        "status_counts": Counter(o.status for o in outcomes),
        "codes": Counter(o.code for o in outcomes if o.code),
        "accepted": len(accepted),
        "accepted_sync_200": sum(1 for o in accepted if o.status == 200 and not o.cached),
        "accepted_cached": sum(1 for o in accepted if o.status == 200 and o.cached),
        "accepted_202": sum(1 for o in accepted if o.status == 202),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "burst_s": burst_s,
        "drained_s": drained_s,
        "open_left": open_now,
        "store_open_left": len(store_open),
        "final_statuses": Counter(g.status if g else "missing" for g in generations.values()),
        "failure_codes": Counter(g.error.code for g in generations.values() if g and g.error),
        "lost": lost,
        "lost_detail": {gid: _fields(generations[gid]) for gid in lost[:20]},
        "stack_dir": state["dir"],
        "late": late,
        "over_quota": over_quota,
        "double_charged": double_charged,
        "under_charged": under_charged,
        "dlq_depths": dlqs,
        "provider_calls": providers["calls"],
        "distinct_requests": providers["distinct"],
        "duplicates": providers["duplicates"],
        "webhooks": providers["webhooks"],
        "upstash_calls": upstash_calls,
        "sqs_requests": sum(sqs_requests.values()),
        "sqs_by_action": sqs_requests,
        "crashes": crashes,
        "load_average": load_average,
    }


def _fields(generation: Any) -> dict[str, str] | None:
    return None if generation is None else dict(generation.to_fields())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stack_spike", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--identities", type=int, default=500)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--api", type=int, default=3)
    parser.add_argument("--workers-per-lane", type=int, default=2)
    parser.add_argument("--no-crash", action="store_true", help="no SIGKILL during the burst")
    parser.add_argument(
        "--log-level", default="WARNING", help="the app's log level (INFO: every job's story)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=[*FAULTS, "all"],
        help="measure this fault instead of the crash spike (repeatable; all: every one)",
    )
    parser.add_argument("--write", action="store_true", help=f"update {DOC.name}")
    parser.add_argument("--json", default=None, help="also write the raw results here")
    args = parser.parse_args(argv)
    if args.fault:
        return _faults_main(args, argv)
    if args.identities < 1 or args.requests < args.identities:
        parser.error("need at least one request per identity")
    params = SpikeParams(
        requests=args.requests,
        identities=args.identities,
        threads=args.threads,
        api=args.api,
        workers_per_lane=args.workers_per_lane,
        crash_worker=not args.no_crash,
        crash_api=not args.no_crash,
        log_level=args.log_level,
    )
    result = run(params)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1, default=str)
    body = report(result, command_line("bench.stack_spike", argv))
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
        print(f"\nwrote {DOC}")
    return 0 if all(verdict(result).values()) else 1


def _faults_main(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from bench import stack_faults
    from bench.stack_faults_report import fault_report

    faults = stack_faults.FAULTS if "all" in args.fault else tuple(dict.fromkeys(args.fault))
    given = set(sys.argv[1:] if argv is None else argv)
    sizes = {}
    for option, name in (
        ("--requests", "requests"),
        ("--identities", "identities"),
        ("--threads", "threads"),
    ):
        if option in given:
            sizes[name] = getattr(args, name)
    for option, name in (
        ("--api", "api"),
        ("--workers-per-lane", "workers_per_lane"),
        ("--log-level", "log_level"),
    ):
        if option in given:
            sizes[name] = getattr(args, name)
    params = stack_faults.FaultParams(faults=faults, **sizes)
    result = stack_faults.run_faults(params)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1, default=str)
    body = fault_report(result, command_line("bench.stack_spike", argv))
    print(body)
    if args.write:
        write_section(stack_faults.SECTION, stack_faults.SECTION_HEADING, body)
        print(f"\nwrote {DOC}")
    return 0 if all(all(stack_faults.fault_verdict(ph).values()) for ph in result["phases"]) else 1


if __name__ == "__main__":
    sys.exit(main())
