"""A burst of generations against a saturated primary, with and without the burst lane.

The real provider router and the real fal and RunPod adapters, on the embedded Redis (breakers,
spend counters), against stand-in vendors in their own shapes (``httpx.MockTransport``: fal's sync
answer with an inline ``data:`` image, RunPod's ``runsync`` answer ``COMPLETED`` with
``{"images": [...]}``). The stand-ins model capacity, not the network:

- fal: ``--fal-slots`` requests served at once, ``--fal-service`` seconds each; the rest wait in
  its queue (the time to result grows with the queue, as a saturated fal queue does);
- RunPod: ``--runpod-slots`` workers, ``--runpod-service`` seconds each (a slower GPU, but room).

A burst of ``--requests`` generations comes from ``--clients`` concurrent callers. Recorded per
run: the time to result of each generation (client side: the router's ``generate``), its p50, p95
and maximum, the share served by RunPod, and the spend. Both modes run ``--rounds`` times,
alternating, with a fresh router (and fresh saturation state) each time.

``.venv/bin/python -m bench.burst [--requests 120 --clients 24] [--write]``
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.report import DOC, command_line, machine, markdown_table, percentile, write_section

SECTION = "burst"
SECTION_HEADING = "## A burst against a saturated primary, with and without the burst lane (bench/burst.py)"
FAL_BASE = "https://fal.bench"
RUNPOD_BASE = "https://runpod.bench"
ENDPOINT = "flux-burst"
RUNPOD_PRICE = 0.004  # USD per image assumed for a RunPod FLUX schnell worker (a price override)


def _png() -> str:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 160, 90)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class StandIn:
    """A vendor with ``slots`` requests served at once, ``service_s`` each; the rest wait."""

    def __init__(self, slots: int, service_s: float, answer: Callable[[], dict[str, Any]]) -> None:
        self._slots = threading.Semaphore(slots)
        self._service_s = service_s
        self._answer = answer
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls += 1
        with self._slots:
            time.sleep(self._service_s)
        return httpx.Response(200, json=self._answer())


@dataclass
class Run:
    mode: str
    latencies_s: list[float]
    runpod_share: float
    spend_usd: float

    def p(self, pct: int) -> float:
        return percentile(self.latencies_s, pct)


def one_run(args: argparse.Namespace, burst: bool, store: Any) -> Run:
    from chalicelib.adapters.providers.fal import FalProvider
    from chalicelib.adapters.providers.options import ProviderOptions
    from chalicelib.adapters.providers.pricing import load_prices
    from chalicelib.adapters.providers.runpod import RunPodProvider
    from chalicelib.domain.budget import Budget
    from chalicelib.ports import ProviderRequest
    from chalicelib.services.routing.burst import BurstLane, BurstPolicy, BurstSpendGuard, Saturation
    from chalicelib.services.routing.policy import RoutingPolicy
    from chalicelib.services.routing.router import ProviderRouter

    image = _png()
    fal_stand_in = StandIn(
        args.fal_slots,
        args.fal_service,
        lambda: {
            "images": [{"url": image, "width": 512, "height": 512}],
            "has_nsfw_concepts": [False],
            "seed": 1,
        },
    )
    runpod_stand_in = StandIn(
        args.runpod_slots,
        args.runpod_service,
        lambda: {
            "id": "sync-1",
            "status": "COMPLETED",
            "delayTime": 90,
            "executionTime": 800,
            "output": {"images": [image]},
        },
    )
    prices = load_prices(json.dumps({"runpod": {"*": RUNPOD_PRICE}}))
    fal = FalProvider(
        "fal-bench-key",
        ProviderOptions(base_url=FAL_BASE, transport=httpx.MockTransport(fal_stand_in), prices=prices),
    )
    runpod = RunPodProvider(
        "rpa_bench_key",
        ENDPOINT,
        ProviderOptions(base_url=RUNPOD_BASE, transport=httpx.MockTransport(runpod_stand_in), prices=prices),
    )
    lane = (
        BurstLane(
            Saturation(BurstPolicy(latency_s=args.latency_threshold, hold_s=args.hold)),
            BurstSpendGuard(store.counters, Budget(daily_usd=100.0), 0.8),
        )
        if burst
        else None
    )
    router = ProviderRouter([fal, runpod], store.breakers, policy=RoutingPolicy(deadline_s=120.0), burst=lane)
    prefix = f"{'on' if burst else 'off'}-{time.monotonic_ns()}"

    def generate(n: int) -> tuple[float, str, float]:
        request = ProviderRequest(
            style_id="anime", prompt=f"{prefix} avatar {n}", user_prompt=f"avatar {n}",
            variation=n, seed=n, size=512, quality="fast",
        )  # fmt: skip
        started = time.perf_counter()
        result = router.generate(request)
        return time.perf_counter() - started, result.provider, result.cost_usd

    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        outcomes = list(pool.map(generate, range(args.requests)))
    fal.close()
    runpod.close()
    served_by_runpod = sum(1 for _, provider, _ in outcomes if provider == "runpod")
    return Run(
        "burst lane" if burst else "no burst lane",
        [latency for latency, _, _ in outcomes],
        served_by_runpod / len(outcomes),
        sum(cost for _, _, cost in outcomes),
    )


def run(args: argparse.Namespace) -> list[Run]:
    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.embedded import open_embedded_redis
    from chalicelib.adapters.store.redis_store import RedisStateStore

    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        redis = open_embedded_redis(Path(tmp))
        try:
            for round_number in range(args.rounds):
                for burst in (False, True):
                    store = RedisStateStore(
                        RedisPyClient(redis), prefix=f"bench-burst-{round_number}-{burst}:"
                    )
                    runs.append(one_run(args, burst, store))
                    print(summary_line(runs[-1]), file=sys.stderr)
        finally:
            if hasattr(redis, "shutdown"):
                redis.shutdown(nosave=True)
    return runs


def summary_line(r: Run) -> str:
    return (
        f"{r.mode:14s} p50 {r.p(50):.2f} s  p95 {r.p(95):.2f} s  max {max(r.latencies_s):.2f} s  "
        f"runpod {r.runpod_share:.0%}  spend ${r.spend_usd:.3f}"
    )


def report(runs: Sequence[Run], args: argparse.Namespace, argv: Sequence[str] | None) -> str:
    rows = []
    for mode in ("no burst lane", "burst lane"):
        mine = [r for r in runs if r.mode == mode]
        p95s = [r.p(95) for r in mine]
        rows.append(
            [
                mode,
                f"{statistics.median(r.p(50) for r in mine):.2f}",
                f"{statistics.median(p95s):.2f}",
                " / ".join(f"{v:.2f}" for v in p95s),
                f"{statistics.median(max(r.latencies_s) for r in mine):.2f}",
                f"{statistics.median(r.runpod_share for r in mine):.0%}",
                f"{statistics.median(r.spend_usd for r in mine):.3f}",
            ]
        )
    table = markdown_table(
        [
            "routing",
            "p50 s",
            "p95 s (median of rounds)",
            "p95 s per round",
            "max s",
            "served by RunPod",
            "spend USD",
        ],
        "lrrrrrr",
        rows,
    )
    return "\n".join(
        [
            f"Recorded {time.strftime('%Y-%m-%d', time.gmtime())} on {machine()} with",
            f"`{command_line('bench.burst', argv)}`.",
            "",
            f"A burst of {args.requests} `fast` generations from {args.clients} concurrent callers through the",
            "real router and the real fal and RunPod adapters, on the embedded Redis, against stand-in vendors",
            f"in their own answer shapes: fal serves {args.fal_slots} at once, {args.fal_service:.2f} s each",
            f"(the rest queue); RunPod {args.runpod_slots} workers, {args.runpod_service:.2f} s each (priced",
            f"${RUNPOD_PRICE} an image here, fal schnell $0.003). Burst lane: median latency over",
            f"{args.latency_threshold:.2f} s (3 calls) marks fal saturated for {args.hold:.0f} s. {args.rounds} rounds",
            "each, alternating; time to result per generation, client side.",
            "",
            table,
            "",
            "Without the burst lane every generation waits its turn in fal's queue; with it, once three",
            "calls have shown fal to be slow, new work goes to RunPod first while fal drains, at RunPod's",
            "price for the share it serves.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--fal-slots", type=int, default=4)
    parser.add_argument("--fal-service", type=float, default=0.25)
    parser.add_argument("--runpod-slots", type=int, default=8)
    parser.add_argument("--runpod-service", type=float, default=0.4)
    parser.add_argument("--latency-threshold", type=float, default=0.75)
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"update {DOC.name}")
    args = parser.parse_args(argv)
    runs = run(args)
    body = report(runs, args, argv)
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
