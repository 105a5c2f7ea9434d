"""The round-trip bench's rows: each request type measured, its target (REST calls), and how each
one is driven against the harness (bench/roundtrips_harness.py).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.report import percentile
from bench.roundtrips_harness import Bench

SYNC_RUNS = 10
# What the architecture promises for each request type (None: informative, no target).
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
