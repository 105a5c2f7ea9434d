"""Reuse of similar requests: how many of the spike benchmark's requests a cached result of a
similar request could serve, and what the lookup costs the admit script.

The requests of ``bench/spike.py`` (same plan, same seed: 8 styles, 3 in 10 asking for one of 40
trending looks, the others for one of 8,000) are replayed in order through the store port on the
embedded Redis (a real Redis 6.2 running the same Lua scripts): each is admitted (``admit.lua``),
and a created job is finished at once (``finish.lua``, which caches and indexes its result). No
quota windows: only the cache decides. Three passes per prompt mix, each on a fresh server:

- ``offer``: the default request; counted: exact cache hits, and created requests offered at
  least one similar result;
- ``accept``: every request says ``accept_similar``; counted: exact hits, similar hits (served
  at once, uncharged), provider calls left;
- ``off``: no similarity lookup at all (the code before it), for the script's own time.

The spike's bodies carry no prompt (a style and a variation), so its mix measures reuse across
variations of the same style; a second mix gives each request a prompt drawn from a small
vocabulary (20 subjects x 12 details, 6 phrasings), to show word-level matching. Redis's own
clock (``SLOWLOG``) says how long each admit script held the server.

``.venv/bin/python -m bench.similar [--requests 5000 --identities 500] [--write]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench.followers import fresh_server, script_times_ms, start_slowlog
from bench.report import command_line, machine, markdown_table, percentile, write_section
from bench.spike import plan

SECTION = "similar"
SECTION_HEADING = "## Reuse of similar requests (bench/similar.py)"
SUBJECTS = (
    "fox", "cat", "owl", "robot", "astronaut", "pirate", "wizard", "knight", "dragon", "panda",
    "samurai", "viking", "mermaid", "ninja", "detective", "chef", "surfer", "dog", "bear", "rabbit",
)  # fmt: skip
DETAILS = (
    "glasses", "red scarf", "top hat", "headphones", "beard", "crown", "hoodie", "freckles",
    "blue hair", "sunglasses", "bow tie", "flower crown",
)  # fmt: skip
PHRASINGS = (
    "a {s} with {d}",
    "{s}, {d}",
    "a {s} wearing {d}",
    "portrait of a {s} with {d}",
    "cute {s} with {d}",
    "{s}",
)
IMAGES = {"128": "img/bench-128.webp", "256": "img/bench-256.webp", "512": "img/bench-512.webp"}


def with_prompts(
    work: list[tuple[int, dict[str, Any], bool]], seed: int
) -> list[tuple[int, dict[str, Any], bool]]:
    rnd = random.Random(seed + 1)
    out = []
    for who, body, is_async in work:
        phrasing = rnd.choice(PHRASINGS)
        prompt = phrasing.format(s=rnd.choice(SUBJECTS), d=rnd.choice(DETAILS))
        out.append((who, {**body, "prompt": prompt}, is_async))
    return out


def replay(work: list[tuple[int, dict[str, Any], bool]], mode: str) -> dict[str, Any]:
    from chalicelib.domain.generation import Generation, Success, iso, request_hash
    from chalicelib.ports import AdmitRequest

    counts: Counter[str] = Counter()
    with fresh_server() as (redis, store):
        start_slowlog(redis)
        admit_ms: list[float] = []
        for n, (who, body, _) in enumerate(work):
            prompt, style, variation = body.get("prompt", ""), body["style"], body["variation"]
            now_ms = 1_900_000_000_000 + n
            generation = Generation(
                id=f"gen_{n}",
                owner=f"u:{who}",
                style=style,
                prompt=prompt,
                variation=variation,
                size=512,
                quality="fast",
                lane="free",
                tier="free",
                created_at=iso(now_ms / 1000),
                request_hash=request_hash(style, prompt, variation, 512, "fast"),
            )
            result = store.generations.admit(
                AdmitRequest(
                    generation=generation,
                    windows=[],
                    rate_key=f"rl:{who}:{n}",
                    rate_limit=1_000_000,
                    rate_reset_at=now_ms // 1000 + 60,
                    now_ms=now_ms,
                    deadline_ms=now_ms + 900_000,
                    offer_similar=mode != "off",
                    accept_similar=mode == "accept",
                )
            )
            admit_ms += script_times_ms(redis)
            redis.slowlog_reset()
            assert result.generation is not None
            if result.outcome == "cached":
                counts["similar_hit" if result.generation.unknown.get("similar_of") else "exact_hit"] += 1
            else:
                assert result.outcome in ("created", "joined"), result.outcome
                counts["created"] += 1
                if result.similar:
                    counts["offered"] += 1
                    counts["offered_items"] += len(result.similar)
                ended = result.generation.ended(Success(IMAGES, "bench"), iso(now_ms / 1000 + 0.001))
                store.generations.finish(_finish(ended))
                redis.slowlog_reset()
        index_sizes = [int(redis.zcard(k)) for k in redis.keys("bench:sim:*")]
    return {"counts": counts, "admit_ms": admit_ms, "index_max": max(index_sizes or [0])}


def _finish(ended: Any) -> Any:
    from chalicelib.ports import Finish

    return Finish(ended)


def run(requests: int, identities: int, seed: int) -> dict[str, dict[str, dict[str, Any]]]:
    work = plan(requests, identities, seed)
    mixes = {"spike (no prompts)": work, "spike + prompts": with_prompts(work, seed)}
    return {
        name: {mode: replay(mix, mode) for mode in ("offer", "accept", "off")} for name, mix in mixes.items()
    }


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def report(results: dict[str, dict[str, dict[str, Any]]], requests: int, command: str) -> str:
    rows = []
    for mix, passes in results.items():
        offer, accept, off = passes["offer"]["counts"], passes["accept"]["counts"], passes["off"]["counts"]
        t_on = passes["offer"]["admit_ms"]
        t_acc = passes["accept"]["admit_ms"]
        t_off = passes["off"]["admit_ms"]
        rows.append(
            (
                mix,
                pct(off["exact_hit"], requests),
                pct(offer["offered"], offer["created"]),
                pct(accept["similar_hit"], requests),
                pct(accept["exact_hit"] + accept["similar_hit"], requests),
                f"{off['created']:,} → {accept['created']:,}",
                f"{percentile(t_off, 50):.3f} / {percentile(t_off, 99):.3f}",
                f"{percentile(t_on, 50):.3f} / {percentile(t_on, 99):.3f}",
                f"{percentile(t_acc, 50):.3f} / {percentile(t_acc, 99):.3f}",
            )
        )
    return "\n".join(
        [
            f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- machine: {machine()}; Python {platform.python_version()}",
            f"- workload: the {requests:,} requests of `bench/spike.py` (its plan and seed), replayed in order "
            "through the store port on the embedded Redis 6.2 (the same Lua scripts as Upstash): each admitted "
            "(`admit.lua`), each created job finished at once (`finish.lua` caches and indexes it); no quota "
            "windows; size 512, quality fast; each pass on a fresh server",
            "- passes: `off` no similarity lookup (as before), `offer` the default request, `accept` every "
            "request with `accept_similar: true`; similarity = token-set Jaccard of the normalised prompt "
            "words (filler left out), offered at >= 0.5, served at >= 0.75, the newest 100 results per "
            "style and quality compared",
            "- the spike's bodies carry no prompt, only a style and a variation: every request of a style is "
            "then 'similar' to every cached result of that style (identical empty prompts), so its similar "
            "hit rate is the share of requests after the first of each style; the second mix gives each "
            "request one of 20 subjects x 12 details in 6 phrasings",
            "- admit script ms: Redis's own time per admit call (`SLOWLOG`, threshold 0), p50 / p99: the "
            "lookup's cost to the server; no round trip is added (it runs inside the admit call)",
            "",
            markdown_table(
                [
                    "prompt mix",
                    "exact cache hits",
                    "created requests offered a similar result",
                    "similar hits (`accept_similar`)",
                    "all hits with `accept_similar`",
                    "provider calls off → accept",
                    "admit ms off",
                    "admit ms offer",
                    "admit ms accept",
                ],
                "lrrrrrrrr",
                rows,
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.similar", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--identities", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    results = run(args.requests, args.identities, args.seed)
    body = report(
        results, args.requests - args.requests % args.identities, command_line("bench.similar", argv)
    )
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
