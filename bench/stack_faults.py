"""Faults on the production topology (``make stack``), measured: what clients get while a part is
down, and what the store holds afterwards.

One stack; one phase per fault, each a short burst of generation requests (``bench/spike.py``'s
mix: half ``Prefer: respond-async``, 3 in 10 a trending look, no ``Idempotency-Key``) from its own
identities, with the fault injected once a share of the burst has been answered:

- ``store-stop``: the redis-server stopped (SIGSTOP) for ``pause_s``, then continued (SIGCONT);
- ``store-kill``: the redis-server killed (SIGKILL); the supervisor starts it again (its
  append-only file brings the data back); the fault lasts until it is ready;
- ``queue-stop``: the queue service (moto: SQS and S3) stopped for ``pause_s``, then continued;
- ``provider-silent``: fal, the first provider, answers nothing for the whole phase (connections
  accepted, no byte back): the router must fail over to Replicate.

Per phase, from the clients' answers: the answers during the fault (by status), the time from the
fault's start to the first 503, whether the stack answered again afterwards (an accepted request
sent after the fault ended); from the store, once every accepted job has ended (or the drain timed
out): lost jobs (accepted with an id, then not succeeded; or still open, unmoved for ``quiet_s``
with every lane's queue empty: stranded), double charges (a quota counter above
the jobs that hold a charge on it), ghost jobs (generations of the phase's identities that no
client got an id for: a request answered with an error that still made a job) and the DLQs' depth.

``.venv/bin/python -m bench.stack_spike --fault all [--write]`` (``--fault store-stop`` ... for one).
Their table and recorded text: bench/stack_faults_report.py.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.spike import plan

FAULTS = ("store-stop", "store-kill", "queue-stop", "provider-silent")
SECTION = "stack-faults"
SECTION_HEADING = "## Faults on the production topology (bench/stack_spike.py --fault)"


@dataclasses.dataclass(frozen=True)
class FaultParams:
    faults: tuple[str, ...] = FAULTS
    requests: int = 150  # per fault
    identities: int = 30
    threads: int = 12
    api: int = 2
    workers_per_lane: int = 1
    seed: int = 20261207
    pause_s: float = 5.0
    at_share: float = 0.3  # the fault starts once this share of the burst has been answered
    latency_ms: str = "100-400"
    visibility_timeout_s: int = 20
    lease_s: int = 10
    reaper_every_s: int = 3
    job_deadline_s: int = 300  # the spike's: a job slowed by a fault is not failed for it
    drain_timeout_s: float = 120.0
    quiet_s: float = 60.0  # see the drain in _phase
    log_level: str = "WARNING"  # the app's: INFO to read a lost job's story in the stack's logs
    keep_logs: bool = True

    def stack_args(self) -> list[str]:
        return [
            "--api", str(self.api),
            "--workers-per-lane", str(self.workers_per_lane),
            "--latency-ms", self.latency_ms,
            "--visibility-timeout", str(self.visibility_timeout_s),
            "--lane-timeout", str(self.lease_s),
            "--every", f"reaper={self.reaper_every_s}",
            "--log-level", self.log_level,
            "--env", f"AVATARFLOW_JOB_LEASE_SECONDS={self.lease_s}",
            "--env", f"AVATARFLOW_PROVIDER_DEADLINE_SECONDS={max(1, self.lease_s - 2)}",
            "--env", f"AVATARFLOW_JOB_DEADLINE_SECONDS={self.job_deadline_s}",
            "--env", "AVATARFLOW_DAILY_BUDGET_USD=100000",
            "--env", "AVATARFLOW_MONTHLY_BUDGET_USD=1000000",
        ]  # fmt: skip


@dataclasses.dataclass
class Answer:
    who: int
    respond_async: bool
    status: int
    sent: float  # perf_counter
    answered: float
    generation_id: str | None
    code: str | None


def run_faults(params: FaultParams, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Start the stack, run one phase per fault, stop it; the results."""
    from stack.running import running_stack

    unknown = set(params.faults) - set(FAULTS)
    if unknown:
        raise ValueError(f"unknown faults {sorted(unknown)}; known: {', '.join(FAULTS)}")
    with running_stack(*params.stack_args(), keep_logs=params.keep_logs) as stack:
        started = time.perf_counter()
        phases = [_phase(stack, params, fault, n, log) for n, fault in enumerate(params.faults)]
        total_s = time.perf_counter() - started
        stack_dir = stack.state()["dir"]
    return {
        "params": dataclasses.asdict(params),
        "phases": phases,
        "total_s": total_s,
        "stack_dir": stack_dir,
        "leftover_processes": stack.leftovers,
        "load_average": os.getloadavg()[0],
    }


def _phase(stack: Any, params: FaultParams, fault: str, n: int, log: Callable[[str], None]) -> dict[str, Any]:
    import redis

    from bench.stack_probes import dlq_depths, identities, ledger, post_generation, queue_depths
    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.redis_store import RedisStateStore

    state = stack.state()
    front = state["front"]
    prefix = f"fault{n}"
    tiers, tokens = identities(state, params.identities, prefix)
    work = plan(params.requests, params.identities, params.seed + n)
    answers: list[Answer] = []
    lock = threading.Lock()
    local = threading.local()
    dlq_before = dlq_depths(state)

    def send(item: tuple[int, dict[str, Any], bool]) -> None:
        who, body, respond_async = item
        sent = time.perf_counter()
        status, payload = post_generation(local, front, tokens[who], body, respond_async)
        answer = Answer(
            who,
            respond_async,
            status,
            sent,
            time.perf_counter(),
            payload.get("id"),
            (payload.get("error") or {}).get("code"),
        )
        with lock:
            answers.append(answer)

    window: dict[str, float] = {}

    def inject() -> None:
        if fault == "provider-silent":
            return
        while True:
            with lock:
                done = len(answers)
            if done >= params.at_share * len(work):
                break
            time.sleep(0.05)
        if fault in ("store-stop", "queue-stop"):
            name = "redis-server" if fault == "store-stop" else "aws"
            pid = int(stack.process_info(name)["pid"])
            window["start"] = time.perf_counter()
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(params.pause_s)
            finally:
                os.kill(pid, signal.SIGCONT)
            window["end"] = time.perf_counter()
        else:  # store-kill
            window["start"] = time.perf_counter()
            pid = stack.crash("redis-server")
            stack.wait_restarted("redis-server", pid)
            window["end"] = time.perf_counter()

    if fault == "provider-silent":
        _silence(state, ["fal"])
    injector = threading.Thread(target=inject, name=f"fault-{fault}")
    burst_started = time.perf_counter()
    injector.start()
    try:
        with ThreadPoolExecutor(max_workers=params.threads) as pool:
            list(pool.map(send, work))
    finally:
        injector.join()
    burst_end = time.perf_counter()
    if fault == "provider-silent":
        window = {"start": burst_started, "end": burst_end}
    log(f"{fault}: burst of {len(work)} requests in {burst_end - burst_started:.1f} s")

    store = RedisStateStore(
        RedisPyClient(redis.Redis(unix_socket_path=state["upstash"]["redis_socket"])),
        prefix=state["key_prefix"],
    )
    accepted_ids = sorted({a.generation_id for a in answers if a.status in (200, 202) and a.generation_id})
    drain_deadline = time.monotonic() + params.drain_timeout_s
    stranded: list[str] = []
    quiet_since, last_open = time.monotonic(), None
    while True:
        statuses = store.generations.statuses(accepted_ids) if accepted_ids else []
        open_ids = [
            gid for gid, s in zip(accepted_ids, statuses, strict=True) if s not in ("succeeded", "failed")
        ]
        open_now = len(open_ids)
        if open_now == 0 or time.monotonic() > drain_deadline:
            break
        # Open jobs that have not moved for params.quiet_s with nothing in any lane's queue (no
        # message waiting or in flight: no redelivery to come) and the provider's webhook retries
        # (30 s apart at most) long past: nothing will end them before the job deadline (minutes).
        # Counted lost ("stranded") now, instead of waiting for the reaper to fail them.
        if open_ids != last_open or any(queue_depths(state).values()):
            quiet_since, last_open = time.monotonic(), open_ids
        elif time.monotonic() - quiet_since > params.quiet_s:
            stranded = open_ids
            break
        time.sleep(1.0)
    drained_s = time.perf_counter() - burst_started
    if fault == "provider-silent":
        _silence(state, [])
    log(f"{fault}: accepted jobs ended after {drained_s:.1f} s ({open_now} still open)")

    generations = {gid: store.generations.get(gid) for gid in accepted_ids}
    lost = [gid for gid, g in generations.items() if g is None or g.status != "succeeded"]
    open_left = [
        gid
        for gid, g in generations.items()
        if g is not None and g.status not in ("succeeded", "failed") and gid not in stranded
    ]
    _, double_charged, under_charged = ledger(store, tiers, params.identities, prefix=prefix)
    handed_out = {a.generation_id for a in answers if a.generation_id}
    ghosts: list[Any] = []
    for who in range(params.identities):
        history, _ = store.generations.history(f"u:{prefix}-{who}", 1000, None)
        ghosts += [g for g in history if g.id not in handed_out]
    during = [a for a in answers if window["start"] <= a.answered <= window["end"]]
    first_503 = min(
        (a.answered for a in answers if a.status == 503 and a.answered >= window["start"]), default=None
    )
    after = [a for a in answers if a.sent > window["end"]]
    recovered = _answers_again(front, tokens[0])
    dlq_after = dlq_depths(state)
    return {
        "fault": fault,
        "requests": len(answers),
        "fault_s": window["end"] - window["start"],
        "burst_s": burst_end - burst_started,
        "drained_s": drained_s,
        "status_counts": Counter(a.status for a in answers),
        "during": Counter(a.status for a in during),
        "during_codes": Counter(a.code for a in during if a.code),
        "time_to_503_s": None if first_503 is None else first_503 - window["start"],
        "accepted": len(accepted_ids),
        "accepted_after_fault": sum(1 for a in after if a.status in (200, 202)),
        "sent_after_fault": len(after),
        "recovered": recovered,
        "open_left": len(open_left),
        "stranded": stranded,
        "lost": lost,
        "lost_statuses": Counter(
            f"{g.status}:{g.error.code}" if g and g.error else (g.status if g else "missing")
            for g in (generations[gid] for gid in lost)
        ),
        # Never claimed by a lane (admitted, then never dispatched): failed at the job deadline.
        "lost_unclaimed": sum(1 for gid in lost if (g := generations[gid]) is not None and g.attempts == 0),
        # Answered 202 to a request that asked to wait (the API gave up waiting on its job).
        "lost_wait_given_up": sum(
            1
            for gid in lost
            if any(a.generation_id == gid and a.status == 202 and not a.respond_async for a in answers)
        ),
        "lost_stranded": len(stranded),
        "double_charged": double_charged,
        "under_charged": under_charged,
        "ghosts": [g.id for g in ghosts],
        "ghost_statuses": Counter(g.status for g in ghosts),
        "ghosts_charged": sum(1 for g in ghosts if g.charged and not g.refunded),
        "dlq_depth": sum(dlq_after.values()),
        "dlq_added": sum(dlq_after.values()) - sum(dlq_before.values()),
    }


def _silence(state: dict[str, Any], providers: list[str]) -> None:
    import httpx

    url = state["providers"]["url"] + "/_stack/silence"
    httpx.post(url, json={"providers": providers}, timeout=10).raise_for_status()


def _answers_again(front: str, bearer: str, timeout: float = 60.0) -> bool:
    """After the phase: the stack serves a read that goes to the store (the caller's quota)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(
                f"{front}/v1/me/quota", headers={"Authorization": f"Bearer {bearer}"}, timeout=10
            )
            if response.status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def fault_verdict(phase: dict[str, Any]) -> dict[str, bool]:
    """The checks that hold on every fault."""
    return {
        "zero lost jobs": not phase["lost"],
        "zero ghost jobs": not phase["ghosts"],  # a request answered an error changed nothing
        "zero double charges": not phase["double_charged"] and not phase["under_charged"],
        "the stack answers again": phase["recovered"],
    }
