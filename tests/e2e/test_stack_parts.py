"""`make stack` serves what production serves, and a part that dies comes back (issue 23, items 4, 6 and 7).

One small stack (one API process, one worker per lane):

- a synchronous request (``Prefer: wait=20``) whose job its webhook ends answers 200 then, not
  when its wait runs out (item 4);
- the image URLs of a generation and of the gallery (seeded at start, as the schedule would) load
  with a plain GET, as R2's public domain serves them: 200 and the image's bytes;
- the redis-server killed with SIGKILL is started again by the supervisor (the state file lists
  its new pid), the stack answers again and what was written before the kill is still there (the
  append-only file); moto killed comes back on the same URL with the bucket's objects, and a new
  generation goes through.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from stack.running import RunningStack, running_stack

pytestmark = pytest.mark.e2e

IMAGE_MAGIC = (b"\x89PNG", b"RIFF", b"\xff\xd8\xff")  # PNG, WebP, JPEG


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    with running_stack(
        "--api", "1", "--workers-per-lane", "1", "--latency-ms", "50-200",
        "--env", "AVATARFLOW_DAILY_BUDGET_USD=100000", "--env", "AVATARFLOW_MONTHLY_BUDGET_USD=1000000",
    ) as running:  # fmt: skip
        yield running
    assert running.leftovers == []


def token(state: dict[str, Any], sub: str) -> str:
    claims = {"sub": sub, "tier": "premium", "exp": int(time.time()) + 3600}
    return jwt.encode(claims, state["jwt_secret"], algorithm="HS256")


def generate(client: httpx.Client, bearer: str, style: str, timeout: float = 120.0) -> dict[str, Any]:
    """A generation, made and waited for as a client does (the 202's Location polled); retried on
    a 503 or 502 while a part of the stack is coming back."""
    headers = {"Authorization": f"Bearer {bearer}", "Idempotency-Key": f"parts-{style}-{bearer[-12:]}"}
    deadline = time.monotonic() + timeout
    while True:
        response = client.post("/v1/generations", headers=headers, json={"style": style})
        if response.status_code in (200, 202):
            break
        assert response.status_code in (502, 503), response.text
        assert time.monotonic() < deadline, response.text
        time.sleep(1)
    doc: dict[str, Any] = response.json()
    while doc["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, doc
        time.sleep(0.5)
        polled = client.get(f"/v1/generations/{doc['id']}", headers={"Authorization": f"Bearer {bearer}"})
        if polled.status_code == 200:
            doc = polled.json()
    assert doc["status"] == "succeeded", doc
    return doc


def assert_loads(url: str) -> None:
    """A plain GET, no credentials, as a browser's <img> makes it."""
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    assert response.headers["content-type"].startswith("image/"), response.headers
    assert response.content.startswith(IMAGE_MAGIC), response.content[:16]


def test_a_generations_and_the_gallerys_image_urls_load_with_a_plain_get(stack: RunningStack) -> None:
    state = stack.state()
    with httpx.Client(base_url=state["front"], timeout=60) as client:
        doc = generate(client, token(state, "parts-images"), "anime")
        gallery = client.get("/v1/gallery", params={"limit": 5})
    assert doc["images"], doc
    for url in doc["images"].values():
        assert_loads(url)
    # Seeded at start: the gallery has items before anything was asked of it.
    assert gallery.status_code == 200, gallery.text
    items = gallery.json()["items"]
    assert items, "the gallery is empty: not seeded at start"
    for item in items[:2]:
        for url in item["images"].values():
            assert_loads(url)
    # The bucket's public domain serves reads only, and nothing that is not there.
    public = state["aws"]["public_url"]
    assert httpx.get(f"{public}/no/such/key.webp", timeout=10).status_code == 404
    assert httpx.put(f"{public}/x.webp", content=b"x", timeout=10).status_code == 405


WAKE_REQUESTS = 5
WAIT_S = 20


def epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_synchronous_request_answers_when_its_webhook_ends_its_job_not_when_its_wait_runs_out(
    stack: RunningStack,
) -> None:
    """Issue 23, item 4, on the stack (webhooks on, its default): new prompts one at a time, each
    ``Prefer: wait=20`` with a job of well under a second. Each answers 200 with its images, from one
    provider call, and not at the end of its wait. Before the fix the waiter kept polling (``collect``
    answered busy: the webhook held the completion claim) until its polls ran out, ~18 s after it was
    sent, then answered 200. The bound below is not a speed target (bench/sync_wake.py measures that:
    ~0.1 s): half the wait after the job's end, which only a waiter that sleeps through the end misses."""
    state = stack.state()
    stats_url = state["providers"]["stats_url"]
    before = httpx.get(stats_url, timeout=10).json()
    answered_after_end: list[float] = []
    with httpx.Client(base_url=state["front"], timeout=60) as client:
        for n in range(WAKE_REQUESTS):
            headers = {
                "Authorization": f"Bearer {token(state, f'parts-wake-{n}')}",
                "Prefer": f"wait={WAIT_S}",
            }
            body = {"style": "anime", "prompt": f"a lighthouse at dawn, number {n}"}
            response = client.post("/v1/generations", headers=headers, json=body)
            answered = time.time()
            assert response.status_code == 200, response.text
            doc = response.json()
            assert doc["status"] == "succeeded", doc
            assert not doc.get("cached"), doc  # a new prompt: its own job, at the provider
            assert doc["images"], doc
            answered_after_end.append(answered - epoch(doc["completed_at"]))
    after = httpx.get(stats_url, timeout=10).json()
    assert after["calls"] - before["calls"] == WAKE_REQUESTS  # one provider call per request
    assert after["duplicates"] == {}
    assert all(s < WAIT_S / 2 for s in answered_after_end), answered_after_end


def test_a_killed_redis_server_is_started_again_and_keeps_its_data(stack: RunningStack) -> None:
    state = stack.state()
    bearer = token(state, "parts-store")
    with httpx.Client(base_url=state["front"], timeout=60) as client:
        before = generate(client, bearer, "pixel")
        old_pid = stack.crash("redis-server")
        stack.wait_restarted("redis-server", old_pid)
        after_state = stack.state()
        new_pid = stack.process_info("redis-server")["pid"]
        assert new_pid != old_pid
        assert after_state["upstash"]["redis_pid"] == new_pid
        # The stack answers again, and the job written before the kill is still there.
        deadline = time.monotonic() + 60
        while True:
            again = client.get(
                f"/v1/generations/{before['id']}", headers={"Authorization": f"Bearer {bearer}"}
            )
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "succeeded"
        assert generate(client, bearer, "watercolor")["status"] == "succeeded"


def test_a_killed_queue_service_comes_back_on_the_same_url_with_the_buckets_objects(
    stack: RunningStack,
) -> None:
    state = stack.state()
    bearer = token(state, "parts-queue")
    with httpx.Client(base_url=state["front"], timeout=60) as client:
        gallery_url = client.get("/v1/gallery", params={"limit": 1}).json()["items"][0]["images"]["128"]
        old_pid = stack.crash("aws")
        stack.wait_restarted("aws", old_pid)
        assert stack.state()["aws"]["endpoint"] == state["aws"]["endpoint"]
        assert_loads(gallery_url)  # the objects written before the crash are back, as R2 keeps them
        doc = generate(client, bearer, "cyberpunk")
    for url in doc["images"].values():
        assert_loads(url)
