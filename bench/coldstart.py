"""Benchmark of the Lambda cold start: fresh interpreters, median of many.

Run from the repository root::

    .venv/bin/python -m bench.coldstart                      # print the table
    .venv/bin/python -m bench.coldstart --write              # ... and update docs/benchmarks.md
    .venv/bin/python -m bench.coldstart --baseline bbd5954   # ... with an older commit beside it

Each measurement is a new ``python`` process (what a new Lambda container pays), timing inside
the process from before the first import to the end of the measured work, so interpreter start-up
is left out for every row alike. Bytecode is cached (one untimed run first): the deployed package
ships it, since Lambda could never write it (``infra/precompile.py``).

- ``import chalice`` and ``import chalice, boto3; boto3.client("s3")``: the baselines;
- ``import app``: the routes, nothing else;
- ``first cache hit``: ``import app``, then one ``POST /v1/generations`` through the Lambda handler
  (``app(event, context)``, an API Gateway proxy event) for a request whose result is in the cache:
  the container is built on the way, with production adapters (Upstash REST, through the local
  REST bridge of the tests in front of a real Redis; R2 for images, never called on a cache hit).

``--baseline REF`` runs the same rows against another commit (a temporary ``git worktree``) in
the same run, with this virtualenv.
"""

from __future__ import annotations

import argparse
import os
import statistics
import string
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.report import DOC, command_line, machine, markdown_table, write_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "coldstart"
SECTION_HEADING = "## Cold start (bench/coldstart.py)"
STYLE, PROMPT = "anime", "a fox in a scarf"

IMPORT_CHALICE = "import chalice"
IMPORT_BOTO3 = "import chalice, boto3; boto3.client('s3', region_name='us-east-1')"
IMPORT_APP = "import app"
CACHE_HIT_TEMPLATE = string.Template(
    """
    import json
    import app
    event = {
        "resource": "/v1/generations", "path": "/v1/generations", "httpMethod": "POST",
        "headers": {"content-type": "application/json", "host": "bench.example"},
        "multiValueHeaders": {"content-type": ["application/json"], "host": ["bench.example"]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "isBase64Encoded": False,
        "body": json.dumps({"style": $style, "prompt": $prompt}),
        "requestContext": {
            "resourcePath": "/v1/generations", "httpMethod": "POST", "path": "/v1api/v1/generations",
            "stage": "v1api", "requestId": "bench", "identity": {"sourceIp": "203.0.113.7"},
        },
    }
    class Context:
        function_name = "avatarflow-bench-api_handler"
        aws_request_id = "bench"
        def get_remaining_time_in_millis(self):
            return 29000
    reply = app.app(event, Context())
    assert reply["statusCode"] == 200, reply
    assert json.loads(reply["body"])["cached"] is True, reply["body"]
    """
)
CACHE_HIT = textwrap.dedent(CACHE_HIT_TEMPLATE.substitute(style=repr(STYLE), prompt=repr(PROMPT)))
AS_DEPLOYED = "first cache hit as deployed (before: sources only; now: with the package's bytecode)"
ROWS = (
    ("import chalice", IMPORT_CHALICE),
    ("import chalice, boto3 + S3 client", IMPORT_BOTO3),
    ("import app", IMPORT_APP),
    ("import app + container + first cache hit", CACHE_HIT),
)


def timed(code: str) -> str:
    """``code`` wrapped to print its own wall time (ms), from the first import to the end."""
    return (
        "import time as _t\n_s = _t.perf_counter()\n"
        + code
        + "\nprint('MS', (_t.perf_counter() - _s) * 1000)\n"
    )


def measure(code: str, cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    """``runs`` timed processes, after one untimed run that caches the bytecode (as deployed)."""
    times = []
    for attempt in range(runs + 1):
        done = subprocess.run(
            [sys.executable, "-c", timed(code)], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"the measured process failed in {cwd}:\n{done.stderr[-3000:]}")
        line = [ln for ln in done.stdout.splitlines() if ln.startswith("MS ")][-1]
        if attempt:
            times.append(float(line.split()[1]))
    return times


@contextmanager
def production_like_store() -> Iterator[dict[str, str]]:
    """A real Redis behind the Upstash REST bridge, holding a cached result; the environment a
    deployed stage would have (Upstash, R2, no provider key)."""
    from chalicelib.adapters.store.embedded import open_embedded_redis, stop_embedded_redis
    from tests.upstash_harness import running_harness

    with ExitStack() as stack, tempfile.TemporaryDirectory() as data:
        redis = open_embedded_redis(Path(data))
        stack.callback(stop_embedded_redis, redis)
        harness = stack.enter_context(running_harness(redis.socket_file))
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AVATARFLOW_", "UPSTASH_", "R2_", "PYTHONDONTWRITEBYTECODE"))
            },
            # Bytecode is compiled once and reused, as in the deployed package (make package ships
            # it: infra/precompile.py); its own folder keeps both trees' caches out of the repo.
            "PYTHONPYCACHEPREFIX": str(Path(data) / "pycache"),
            "AVATARFLOW_STAGE": "dev",
            "AVATARFLOW_DATA_DIR": data,
            "AVATARFLOW_JWT_SECRET": "bench-secret-0123456789abcdef0123456789",
            "UPSTASH_REDIS_REST_URL": harness.url,
            "UPSTASH_REDIS_REST_TOKEN": harness.token,
            "R2_ENDPOINT_URL": "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
            "R2_ACCESS_KEY_ID": "bench-key-id",
            "R2_SECRET_ACCESS_KEY": "bench-secret-key",
            "R2_BUCKET": "avatarflow-bench",
            "R2_PUBLIC_BASE_URL": "https://img.bench.example",
            # A deployed stage's photos bucket (R2 cannot take form uploads; docs/photos.md).
            "AVATARFLOW_PHOTOS_BUCKET": "avatarflow-bench-photos",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        fill_the_cache(env)
        yield env


def fill_the_cache(env: dict[str, str]) -> None:
    """End one generation of the measured request, so that the measured request is a cache hit."""
    code = textwrap.dedent(
        f"""
        from chalicelib.config import Settings
        from chalicelib.bootstrap.adapters import build_store
        from chalicelib.domain.generation import Generation, Success, iso, request_hash
        from chalicelib.ports import AdmitRequest, Finish
        import time
        store = build_store(Settings.from_env())
        now = time.time()
        new = Generation(
            id="gen_benchcoldstart000000", owner="ip:bench", style={STYLE!r}, prompt={PROMPT!r},
            variation=0, size=512, quality="fast", lane="free", tier="anonymous", created_at=iso(now),
            request_hash=request_hash({STYLE!r}, {PROMPT!r}, 0, 512, "fast"),
        )
        admitted = store.generations.admit(AdmitRequest(
            generation=new, windows=(), rate_key="rl:bench", rate_limit=100,
            rate_reset_at=int(now) + 60, now_ms=int(now * 1000), deadline_ms=int(now * 1000) + 60000,
        ))
        assert admitted.outcome == "created", admitted
        images = {{s: f"img/bench-{{s}}.webp" for s in ("128", "256", "512")}}
        assert store.generations.finish(Finish(new.ended(Success(images, "fal"), iso(now))))
        """
    )
    subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as parent:
        path = Path(parent) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True, capture_output=True
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)],
                cwd=ROOT,
                check=False,
                capture_output=True,
            )


def run(runs: int, baseline: str | None) -> tuple[list[list[str]], dict[str, float]]:
    """Each row's median; where a baseline is measured too, its runs and ours alternate (one
    process each in turn), so that a change in the machine's load weighs on both alike."""
    table: list[list[str]] = []
    medians: dict[str, float] = {}
    with production_like_store() as env, ExitStack() as stack:
        old = stack.enter_context(checkout(baseline)) if baseline else None
        for name, code in ROWS:
            if old is None or code not in (IMPORT_APP, CACHE_HIT):
                medians[name] = statistics.median(measure(code, ROOT, env, runs))
                table.append([name, "", f"{medians[name]:.0f}"])
                continue
            ours, theirs = measure(code, ROOT, env, 0), measure(code, old, env, 0)  # bytecode, once
            for _ in range(runs):
                theirs += measure(code, old, env, 1)
                ours += measure(code, ROOT, env, 1)
            medians[name] = statistics.median(ours)
            table.append([name, f"{statistics.median(theirs):.0f}", f"{medians[name]:.0f}"])
        if old is not None:
            # What a deployed container paid: `chalice package` shipped sources only, so Lambda
            # (read-only) compiled every module on every cold start; ours ships the bytecode.
            sources_only = {
                **env,
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPYCACHEPREFIX": str(Path(env["AVATARFLOW_DATA_DIR"]) / "none"),
            }
            ours, theirs = [], []
            for _ in range(runs):
                theirs += measure(CACHE_HIT, old, sources_only, 1)
                ours += measure(CACHE_HIT, ROOT, env, 1)
            medians[AS_DEPLOYED] = statistics.median(ours)
            table.append([AS_DEPLOYED, f"{statistics.median(theirs):.0f}", f"{medians[AS_DEPLOYED]:.0f}"])
    return table, medians


def report(
    table: list[list[str]],
    medians: dict[str, float],
    runs: int,
    baseline: str | None,
    argv: Sequence[str] | None,
) -> str:
    base = medians["import chalice, boto3 + S3 client"]
    app_ms, first_ms = medians["import app"], medians["import app + container + first cache hit"]
    lines = [
        f"- command: `{command_line('bench.coldstart', argv)}`",
        f"- machine: {machine()}",
        f"- {runs} fresh processes per row, median wall time (ms) from the first import to the end of the work",
        "- bytecode compiled once and then loaded (an untimed first run per row and tree), as in the"
        " deployed package, which ships it (`make package` runs `infra/precompile.py`: Lambda cannot write it)",
        "- production adapters: Upstash REST (the tests' REST bridge on loopback, in front of a real Redis) and R2"
        " (configured, not called on a cache hit); the request is anonymous",
        "",
        markdown_table(["row", f"before ({baseline})" if baseline else "before", "now (ms)"], "lrr", table),
        "",
        f"- `import app` = {app_ms / base:.0%} of the chalice + boto3 + S3 client baseline (target <= 50 %)",
    ]
    if baseline:
        old_first = next(float(r[1]) for r in table if r[0].startswith("import app +") and r[1])
        old_deployed = next(float(r[1]) for r in table if r[0] == AS_DEPLOYED)
        lines += [
            f"- import + container + first cache hit = {first_ms / old_first:.0%} of before, both with bytecode"
            " (target <= 50 %)",
            f"- the same as deployed = {medians[AS_DEPLOYED] / old_deployed:.0%} of before: `chalice package` ships"
            " sources only, and Lambda's read-only filesystem never lets Python cache what it compiles, so before"
            " this change every cold start compiled every module it imported (ours and the dependencies')",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--baseline", help="a git ref to measure beside the working tree")
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    table, medians = run(args.runs, args.baseline)
    body = report(table, medians, args.runs, args.baseline, argv)
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
