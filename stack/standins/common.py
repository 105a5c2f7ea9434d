"""What the vendor stand-ins share: their state (latency, failures, counts, scripted outcomes, the
webhook sender) and the plumbing of an answer.

A stand-in is a callable ``handle(request, base) -> httpx.Response``: ``request`` as the client
sent it, ``base`` the vendor's root URL as the client knows it (``https://queue.fal.run`` in a
test's transport, ``http://127.0.0.1:PORT/fal/queue`` under ``make stack``). The same object
answers the stack's HTTP server (``stack/providers.py``) and the tests' httpx transports
(:mod:`stack.standins.hosts`), so there is one stand-in per vendor.
"""

from __future__ import annotations

import base64
import io
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

# Outcomes a test (or ``POST /_stack/script`` under ``make stack``) can ask of a vendor's next
# generation; each stand-in documents the ones it knows.
Outcome = str


def json_response(status: int, doc: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON answer, as the vendors send them."""
    return httpx.Response(status, json=doc, headers=headers or {})


def relative_path(request: httpx.Request, base: str) -> str:
    """The request's path under the vendor's ``base`` URL (``/fal-ai/flux/dev``...)."""
    path = request.url.path
    prefix = httpx.URL(base).path.rstrip("/")
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def body_of(request: httpx.Request) -> dict[str, Any]:
    try:
        doc = json.loads(request.content or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


# The photo models' input field with the photo's URL (fal PuLID, fal and Together Kontext, Replicate Kontext).
PHOTO_URL_FIELDS = ("reference_image_url", "image_url", "input_image")


def unreadable_photo(body: dict[str, Any]) -> str | None:
    """The photo URL field of a photo model's input that the vendor could not download (a GET
    that is not 200: an expired or wrongly signed presigned URL), None if every one loads. The
    vendors fetch the photo themselves: so does the stand-in, from the stack's S3."""
    for name in PHOTO_URL_FIELDS:
        url = body.get(name)
        if not isinstance(url, str):
            continue
        try:
            loaded = httpx.get(url, timeout=10).status_code == 200
        except httpx.HTTPError:
            loaded = False
        if not loaded:
            return name
    return None


def png_data_uri(size: int, seed: int) -> str:
    from PIL import Image

    shade = seed % 200
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (shade, 90, 200 - shade)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class Shared:
    """The stand-ins' common state: latency, failure rate, call counts, scripted outcomes and the
    webhook sender. ``latency_ms=(0, 0)`` (the tests') makes every job finish at once."""

    def __init__(
        self,
        latency_ms: tuple[int, int] = (0, 0),
        failure_rate: float = 0.0,
        seed: int = 16,
        deliver_webhooks: bool = True,
    ) -> None:
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.random = random.Random(seed)
        self.deliver_webhooks = deliver_webhooks
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.failures = 0
        self.webhooks: Counter[str] = Counter()  # "fal:200", "replicate:503", ...
        self.sent: list[tuple[str, str, bytes, dict[str, str]]] = []  # (vendor, url, body, headers)
        self.senders = ThreadPoolExecutor(max_workers=16, thread_name_prefix="webhook")
        self._images: dict[tuple[int, int], str] = {}
        self._script: dict[str, deque[Outcome]] = {}

    # -- knobs ---------------------------------------------------------------------------------

    def script(self, vendor: str, *outcomes: Outcome) -> None:
        """The outcomes of ``vendor``'s next generations, in order (then the normal one)."""
        with self.lock:
            self._script.setdefault(vendor, deque()).extend(outcomes)

    def next_outcome(self, vendor: str) -> Outcome:
        with self.lock:
            queue = self._script.get(vendor)
            return queue.popleft() if queue else "ok"

    def latency(self) -> float:
        low, high = self.latency_ms
        with self.lock:
            return self.random.uniform(low, high) / 1000

    def fails(self) -> bool:
        with self.lock:
            failed = self.random.random() < self.failure_rate
            self.failures += failed
            return failed

    def count(self, provider: str, model: str, prompt: str, seed: Any) -> None:
        with self.lock:
            self.calls[json.dumps([provider, model, prompt, seed])] += 1

    def image(self, size: int, seed: int) -> str:
        """A PNG ``data:`` URI (the adapters refuse downloads from 127.0.0.1, as they must)."""
        key = (size, seed % 16)
        with self.lock:
            cached = self._images.get(key)
        if cached is None:
            cached = png_data_uri(size, seed)
            with self.lock:
                self._images[key] = cached
        return cached

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": sum(self.calls.values()),
                "distinct": len(self.calls),
                "duplicates": {key: n for key, n in self.calls.items() if n > 1},
                "failures": self.failures,
                "webhooks": dict(self.webhooks),
            }

    # -- webhooks ------------------------------------------------------------------------------

    def later(self, job: Callable[[], None]) -> None:
        """Run ``job`` in the background (a job finishing after its latency, a webhook)."""
        self.senders.submit(job)

    def deliver(self, vendor: str, url: str, body: bytes, sign: Callable[[], dict[str, str]]) -> None:
        """POST a webhook, signed afresh for each attempt; retried with a growing gap on a failure
        (fal and Replicate retry for hours; here for about three minutes). Every delivery is kept
        in ``sent`` (the tests read it)."""
        headers = sign()
        with self.lock:
            self.sent.append((vendor, url, body, headers))
        if not self.deliver_webhooks:
            return
        for attempt in range(10):
            try:
                status = httpx.post(url, content=body, headers=headers, timeout=30.0).status_code
            except httpx.HTTPError:
                status = 0
            with self.lock:
                self.webhooks[f"{vendor}:{status}"] += 1
            if 200 <= status < 300:
                return
            time.sleep(min(30.0, 0.5 * 2**attempt))
            headers = sign()

    def close(self) -> None:
        self.senders.shutdown(wait=False, cancel_futures=True)
