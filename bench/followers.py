"""Benchmark of ending a popular job: 10,000 identical requests joined it while it ran.

Run from the repository root::

    .venv/bin/python -m bench.followers            # print the table
    .venv/bin/python -m bench.followers --write    # ... and update docs/benchmarks.md

While a Lua script runs, Redis serves nobody. The job and its followers are made through the store
port on the embedded Redis (a real Redis 6.2), then ended twice over, on identical data: once with
the finish script of commit ``bbd5954`` (every follower in one script call: "before"), once as the
code does now (the first chunk in the finish script, the rest a chunk per ``finish_followers``
call). Redis's own clock says how long each script held the server (``SLOWLOG`` at threshold 0).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.report import DOC, command_line, machine, markdown_table, write_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "followers"
SECTION_HEADING = "## Ending a job with 10,000 followers (bench/followers.py)"
BEFORE = "bbd5954"
TARGET_MS = 5.0


def crowd(store: Any, req_hash: str, followers: int) -> Any:
    """A running job and ``followers`` identical requests joined to it."""
    from chalicelib.domain.generation import Generation, iso
    from chalicelib.ports import AdmitRequest

    now = time.time()

    def admit(owner: str) -> Any:
        new = Generation(
            id=f"gen_{req_hash}_{owner}",
            owner=owner,
            style="anime",
            prompt="",
            variation=0,
            size=512,
            quality="fast",
            lane="free",
            tier="free",
            created_at=iso(now),
            request_hash=req_hash,
        )
        return store.generations.admit(
            AdmitRequest(
                generation=new,
                windows=(),
                rate_key=f"rl:{owner}",
                rate_limit=10,
                rate_reset_at=int(now) + 60,
                now_ms=int(now * 1000),
                deadline_ms=int(now * 1000) + 900_000,
            )
        ).generation

    leader = admit("leader")
    for n in range(followers):
        admit(f"f{n}")
    claimed = store.generations.claim(leader.id, int(now * 1000), 600_000)
    assert claimed is not None
    return claimed


def start_slowlog(redis: Any) -> None:
    """Log every command from now on (only now: logging the 10,000 admissions too would leave
    the server freeing hundreds of thousands of entries during the measured calls)."""
    redis.config_set("slowlog-max-len", 100_000)
    redis.config_set("slowlog-log-slower-than", 0)
    redis.slowlog_reset()


def script_times_ms(redis: Any) -> list[float]:
    """How long each script call since the last reset held the server (ms), oldest first."""
    entries = redis.slowlog_get(100_000)

    def command(entry: Any) -> str:
        raw = entry["command"]
        return (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).upper()

    scripts = [e for e in entries if command(e).startswith(("EVALSHA", "EVAL"))]
    return [e["duration"] / 1000 for e in reversed(scripts)]


def old_finish(redis: Any, store: Any, leader: Any) -> None:
    """The one-call finish script of the baseline commit, on the same kind of data."""
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:chalicelib/adapters/store/lua/finish.lua"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    keys = store.keyspace
    cache, inflight, followers = keys.request_keys(leader.request_hash)
    sha = redis.script_load(source)  # loaded beforehand, as a warm server has it: EVALSHA is timed
    start_slowlog(redis)
    redis.evalsha(
        sha,
        7,
        keys.generation(leader.id),
        cache,
        inflight,
        followers,
        keys.key("jobs:open"),
        keys.key("jobs:callback"),
        keys.key("jobs:poll"),
        leader.id,
        "succeeded",
        "2030-01-01T00:00:00.000Z",
        '{"512":"img/x.webp"}',
        "bench",
        "",
        "",
        3600,
        keys.generation_prefix,
        0,
        0,
        0,
    )


@contextmanager
def fresh_server() -> Iterator[tuple[Any, Any]]:
    """A new embedded Redis and a store on it: each side is measured on its own server, so that
    neither pays for the other's garbage (Lua's collector runs inside a later script call)."""
    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.embedded import open_embedded_redis, stop_embedded_redis
    from chalicelib.adapters.store.redis_store import RedisStateStore

    with tempfile.TemporaryDirectory(prefix="bench-followers-") as data:
        redis = open_embedded_redis(Path(data))
        try:
            # No background snapshot or AOF rewrite: 10,000 admissions trigger one, and its fork
            # makes the next writes pay copy-on-write page faults: that is the embedded server's
            # housekeeping, not the scripts' work (Upstash has neither).
            redis.config_set("save", "")
            redis.config_set("auto-aof-rewrite-percentage", 0)
            yield redis, RedisStateStore(RedisPyClient(redis), prefix="bench:")
        finally:
            stop_embedded_redis(redis)


def run(followers: int) -> tuple[list[float], list[float]]:
    from chalicelib.adapters.store.scripts import script
    from chalicelib.domain.generation import Success, iso
    from chalicelib.ports import Finish

    with fresh_server() as (redis, store):
        leader = crowd(store, "before", followers)
        old_finish(redis, store, leader)
        before = script_times_ms(redis)

    with fresh_server() as (redis, store):
        leader = crowd(store, "after", followers)
        for name in ("finish", "finish_followers"):  # loaded, as on a warm server
            redis.script_load(script(name).source)
        start_slowlog(redis)
        ended = leader.ended(Success({"512": "img/x.webp"}, "bench"), iso(time.time()))
        finished = store.generations.finish(Finish(ended))
        pending = finished.pending
        while pending:
            pending = store.generations.finish_followers(leader.id).left
        after = script_times_ms(redis)
        assert (
            store.generations.statuses([f"gen_after_f{n}" for n in range(followers)])
            == ["succeeded"] * followers
        )
    return before, after


def report(before: list[float], after: list[float], followers: int, argv: Sequence[str] | None) -> str:
    rows = [
        [
            f"before ({BEFORE}): one finish script",
            str(len(before)),
            f"{max(before):.1f}",
            f"{sum(before):.1f}",
        ],
        ["now: finish + finish_followers chunks", str(len(after)), f"{max(after):.1f}", f"{sum(after):.1f}"],
    ]
    verdict = "met" if max(after) <= TARGET_MS else "NOT met"
    return "\n".join(
        [
            f"- command: `{command_line('bench.followers', argv)}`",
            f"- machine: {machine()}",
            f"- {followers:,} followers joined one running job; the embedded Redis 6.2 on a unix socket; "
            "durations are Redis's own (`SLOWLOG`, threshold 0): the time each script held the server",
            "",
            markdown_table(
                ["how the job ends", "script calls", "longest call (ms)", "all calls (ms)"], "lrrr", rows
            ),
            "",
            f"- target: no call holds Redis over ~{TARGET_MS:.0f} ms: {verdict}; every follower ended (checked), "
            "and what a finisher leaves half way is the reaper's (`jobs:followers`)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.followers", description=__doc__)
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    before, after = run(args.followers)
    body = report(before, after, args.followers, argv)
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
    return 0 if max(after) <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
