"""`make stack` with its store stopped mid-burst: a 503 means nothing happened, and a request that
was admitted is never answered 503.

The stack (two API processes behind the front, Upstash REST in front of a real redis-server, SQS
and S3 on moto, fal and Replicate stand-ins with webhooks) takes requests from many threads, each
from an identity of its own and without an ``Idempotency-Key``, half waiting for their result and
half ``Prefer: respond-async``; the redis-server is stopped (SIGSTOP) for 5 s mid-burst and resumed
(SIGCONT). Commands held by the stopped server run when it resumes. Then, once every job has ended:

- every identity answered 503 has no generation and no charge (issue 23, item 1);
- every generation in the store belongs to a request that got its id (200 or 202): no request
  admitted before or during the stall was answered 503 (item 2), and none was lost.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

STALL_S = 5.0
BURST_S = 12.0
THREADS = 8
DURING = 4  # requests sent while the store is stopped


def test_a_store_stopped_mid_burst_leaves_no_generation_behind_a_503_and_no_503_behind_an_admission() -> None:
    import httpx
    import jwt
    import redis

    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.redis_store import RedisStateStore
    from stack.running import running_stack

    args = [
        "--api", "2",
        "--workers-per-lane", "1",
        "--latency-ms", "100-400",
        "--visibility-timeout", "20",
        "--lane-timeout", "10",
        "--every", "reaper=3",
        "--log-level", "WARNING",
        "--env", "AVATARFLOW_JOB_LEASE_SECONDS=10",
        "--env", "AVATARFLOW_PROVIDER_DEADLINE_SECONDS=8",
        "--env", "AVATARFLOW_JOB_DEADLINE_SECONDS=120",
        "--env", "AVATARFLOW_DAILY_BUDGET_USD=100000",
        "--env", "AVATARFLOW_MONTHLY_BUDGET_USD=1000000",
    ]  # fmt: skip
    with running_stack(*args) as stack:
        state = stack.state()
        front = state["front"]
        redis_pid = int(state["upstash"]["redis_pid"])
        store = RedisStateStore(
            RedisPyClient(
                redis.Redis(unix_socket_path=state["upstash"]["redis_socket"], decode_responses=True)
            ),
            prefix=state["key_prefix"],
        )
        exp = int(time.time()) + 3600
        answers: dict[str, tuple[int, str | None, str | None]] = {}  # identity -> status, id, code
        lock = threading.Lock()
        counter = iter(range(1_000_000))
        stop_at = time.monotonic() + BURST_S

        def send(http: httpx.Client) -> None:
            with lock:
                n = next(counter)
            sub = f"stall-{n}"
            token = jwt.encode({"sub": sub, "tier": "premium", "exp": exp}, state["jwt_secret"], "HS256")
            headers = {"Authorization": f"Bearer {token}"}
            if n % 2:
                headers["Prefer"] = "respond-async"
            body = {"style": "anime", "prompt": f"portrait number {n}"}
            try:
                response = http.post("/v1/generations", headers=headers, content=json.dumps(body))
            except httpx.HTTPError:
                answer: tuple[int, str | None, str | None] = (0, None, "client_timeout")
            else:
                doc = response.json()
                error = doc.get("error") if isinstance(doc, dict) else None
                answer = (response.status_code, doc.get("id"), error["code"] if error else None)
            with lock:
                answers[sub] = answer

        def fire(_: int) -> None:
            with httpx.Client(base_url=front, timeout=30) as http:
                while time.monotonic() < stop_at:
                    send(http)

        def one(_: int) -> None:
            with httpx.Client(base_url=front, timeout=30) as http:
                send(http)

        with ThreadPoolExecutor(THREADS) as pool, ThreadPoolExecutor(DURING) as during:
            futures = [pool.submit(fire, i) for i in range(THREADS)]
            time.sleep(3.0)
            os.kill(redis_pid, signal.SIGSTOP)
            try:
                # Requests sent once the store has stopped surely meet it (the burst's own may all be
                # waiting on jobs admitted before): their admission times out well within the stall.
                time.sleep(0.5)
                futures += [during.submit(one, i) for i in range(DURING)]
                time.sleep(STALL_S - 0.5)
            finally:
                os.kill(redis_pid, signal.SIGCONT)
            for future in futures:
                future.result()

        # Every job ends: the lanes, the webhooks, the poller, the dispatch sweep.
        deadline = time.monotonic() + 150
        while store.generations.open_ids() and time.monotonic() < deadline:
            time.sleep(1.0)
        assert store.generations.open_ids() == []

        statuses = [a[0] for a in answers.values()]
        refused = [sub for sub, a in answers.items() if a[0] == 503]
        accepted = {sub: a[1] for sub, a in answers.items() if a[0] in (200, 202)}
        assert 500 not in statuses and 502 not in statuses, statuses
        assert refused, (
            f"no request met the stopped store: {sorted(answers.values(), key=str)}"
        )  # the stall was met
        assert accepted, statuses
        assert all(answers[sub][2] == "store_unavailable" for sub in refused)

        def generations_of(sub: str) -> list[Any]:
            found, _ = store.generations.history(f"u:{sub}", 10, None)
            return found

        # Item 1: a 503 left nothing behind (no generation, no charge).
        ghosts = {sub: [g.id for g in generations_of(sub)] for sub in refused}
        assert not any(ghosts.values()), ghosts
        # Item 2: every admitted request got its id; each of its jobs ended, once.
        for sub, gid in accepted.items():
            made = generations_of(sub)
            assert [g.id for g in made] == [gid], (sub, answers[sub], [(g.id, g.status) for g in made])
            assert made[0].status == "succeeded", (sub, made[0])
    assert stack.leftovers == []
