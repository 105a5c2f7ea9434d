"""Provider calls on real sockets: a hanging, dripping or flooding vendor cannot hold a generation.

A stand-in server on 127.0.0.1 (raw sockets, one thread per connection) plays each vendor by path
prefix; the adapters are pointed at it with their ``base_url`` settings and use their production
transport (no mock anywhere): what is tested is the socket-level total deadline and the streamed,
capped read. No internet.

- ``/hang``: reads the request, never answers;
- ``/drip-body``: a 200 with a long ``Content-Length``, then one byte every 0.3 s;
- ``/drip-head``: the status line and headers, one byte every 0.3 s;
- ``/huge`` and ``/huge-declared``: a 40 MB JSON answer, streamed as fast as the client reads it
  (without, then with, a ``Content-Length``);
- ``/together``: a healthy Together answer (``b64_json``).

Every endless behaviour gives up after ``GIVE_UP_S``, so that a regression fails the test instead
of hanging it.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chalicelib.adapters.providers.fal import FalProvider
from chalicelib.adapters.providers.http_base import DEFAULT_MAX_ANSWER_BYTES, make_timeout
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.together import TogetherProvider
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import build_provider
from chalicelib.ports import ProviderDown, RetryableProviderError
from chalicelib.services.messagebus import MessageBus
from chalicelib.services.routing.router import Attempt, ProviderRouter
from tests.conftest import make_settings
from tests.unit.providers.helpers import make_request, png_bytes

GIVE_UP_S = 10.0
DRIP_EVERY_S = 0.3
HUGE_BYTES = 40 * 1024 * 1024
TOGETHER_PNG = png_bytes(64, (30, 200, 30))


@dataclass
class StandIn:
    """The server's address and what it did."""

    url: str
    stop: threading.Event
    sent: dict[str, int] = field(default_factory=dict)  # bytes written per behaviour
    ended: dict[str, threading.Event] = field(default_factory=dict)  # a behaviour's connection is over
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, behaviour: str, n: int) -> None:
        with self.lock:
            self.sent[behaviour] = self.sent.get(behaviour, 0) + n

    def over(self, behaviour: str) -> threading.Event:
        with self.lock:
            return self.ended.setdefault(behaviour, threading.Event())


def _read_request(conn: socket.socket) -> str:
    """The request's path, its headers and body read (bodies are small JSON)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return ""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return lines[0].split(" ")[1]


def _together_answer() -> bytes:
    body = json.dumps(
        {
            "id": "tg-1",
            "model": "black-forest-labs/FLUX.1-schnell",
            "data": [{"index": 0, "b64_json": base64.b64encode(TOGETHER_PNG).decode()}],
        }
    ).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _serve(server: StandIn, conn: socket.socket) -> None:
    with conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)  # bytes sent ~ bytes read
        while not server.stop.is_set():  # keep-alive: one request after another
            path = _read_request(conn)
            behaviour = path.strip("/").split("/")[0]
            if not path:
                return
            if behaviour == "together":
                conn.sendall(_together_answer())
                continue
            try:
                _misbehave(server, conn, behaviour)
            except OSError:  # the client gave up: what these tests want
                pass
            finally:
                server.over(behaviour).set()
            return


def _misbehave(server: StandIn, conn: socket.socket, behaviour: str) -> None:
    ends = time.monotonic() + GIVE_UP_S
    if behaviour == "hang":
        server.stop.wait(GIVE_UP_S)
        return
    if behaviour in ("drip-body", "drip-head"):
        if behaviour == "drip-body":
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            )
            payload = b" " * 100000
        else:
            payload = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: a\r\n" * 10000
        for i in range(len(payload)):
            if time.monotonic() > ends or server.stop.wait(DRIP_EVERY_S):
                return
            conn.sendall(payload[i : i + 1])
            server.count(behaviour, 1)
        return
    declared = (
        f"Content-Length: {HUGE_BYTES}\r\n" if behaviour == "huge-declared" else "Connection: close\r\n"
    )
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{declared}\r\n".encode())
    prefix = b'{"images": [{"url": "data:image/png;base64,'
    conn.sendall(prefix)
    sent = len(prefix)
    chunk = b"A" * 65536
    while sent < HUGE_BYTES and time.monotonic() < ends:
        piece = chunk[: HUGE_BYTES - sent]
        conn.sendall(piece)
        sent += len(piece)
        server.count(behaviour, len(piece))


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    listener.settimeout(0.2)  # lets the accept loop see the stop event
    server = StandIn(f"http://127.0.0.1:{listener.getsockname()[1]}", threading.Event())
    ready = threading.Event()

    def accept_loop() -> None:
        ready.set()
        while not server.stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            threading.Thread(target=_serve, args=(server, conn), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    assert ready.wait(5)
    yield server
    server.stop.set()
    thread.join(5)
    listener.close()


FAL_KEY = "fal-deadline-key:0123456789abcdef"
TOGETHER_KEY = "together-deadline-key-0123456789"
DEADLINE_S = 3.0
RESERVE_S = 1.5


def router_over(
    tmp_path: Path, store: RedisStateStore, url: str, primary: str
) -> tuple[ProviderRouter, list[Attempt]]:
    """The router as bootstrap builds it from the settings: fal at ``primary``, then Together."""
    settings = make_settings(
        tmp_path,
        fal_key=FAL_KEY,
        together_api_key=TOGETHER_KEY,
        fal_base_url=f"{url}/{primary}",
        together_base_url=f"{url}/together",
        provider_deadline_seconds=DEADLINE_S,
        provider_attempt_reserve_seconds=RESERVE_S,
    )
    attempts: list[Attempt] = []
    router = build_provider(settings, store.breakers, MessageBus({Attempt: [attempts.append]}))
    assert isinstance(router, ProviderRouter)
    return router, attempts


@pytest.mark.parametrize("primary", ["hang", "drip-body", "drip-head", "huge"])
def test_a_misbehaving_primary_fails_over_to_the_second_within_the_deadline(
    stand_in: StandIn, tmp_path: Path, store: RedisStateStore, primary: str
) -> None:
    router, attempts = router_over(tmp_path, store, stand_in.url, primary)
    started = time.monotonic()
    result = router.generate(make_request())
    elapsed = time.monotonic() - started

    assert result.provider == "together"
    assert result.image == TOGETHER_PNG
    assert elapsed < DEADLINE_S
    fal = attempts[0]
    assert (fal.provider, fal.error_kind) == ("fal", "down" if primary == "huge" else "retryable")
    if primary != "huge":
        # fal's budget: 3 s less the 1.5 s kept for Together. Not a per-read timeout: a drip
        # keeps every read short, and is stopped all the same.
        assert 1.3 < fal.latency_ms / 1000 < 2.0
    assert attempts[1].provider == "together" and attempts[1].error_kind is None


@pytest.mark.parametrize("behaviour", ["drip-body", "drip-head"])
def test_a_dripping_call_stops_at_the_generation_deadline(stand_in: StandIn, behaviour: str) -> None:
    fal = FalProvider(
        FAL_KEY, ProviderOptions(base_url=f"{stand_in.url}/{behaviour}", timeout=make_timeout(60.0))
    )
    started = time.monotonic()
    with pytest.raises(RetryableProviderError, match="timed out"):
        fal.generate(make_request(), within_s=1.0)
    elapsed = time.monotonic() - started
    fal.close()
    assert 0.95 <= elapsed < 1.4  # the total bound, although no single read waited 60 s
    assert stand_in.over(behaviour).wait(5)  # the server saw the connection go
    assert stand_in.sent.get(behaviour, 0) <= 1.0 / DRIP_EVERY_S + 2


def test_a_dripping_call_outside_a_generation_stops_at_connect_plus_read(stand_in: StandIn) -> None:
    queue = f"{stand_in.url}/drip-body"
    fal = FalProvider(FAL_KEY, ProviderOptions(timeout=make_timeout(1.0, connect=0.5)), queue_base_url=queue)
    started = time.monotonic()
    with pytest.raises(RetryableProviderError, match="timed out"):
        fal.status(f"{queue}/requests/r-1/status")  # the reaper's poll: no within_s
    elapsed = time.monotonic() - started
    fal.close()
    assert 0.95 <= elapsed < 1.9  # 0.5 + 1.0 in total, each read well under 1 s


@pytest.mark.parametrize("behaviour", ["huge", "huge-declared"])
def test_a_huge_answer_is_refused_early_without_reading_it_whole(stand_in: StandIn, behaviour: str) -> None:
    together = TogetherProvider(TOGETHER_KEY, ProviderOptions(base_url=f"{stand_in.url}/{behaviour}"))
    started = time.monotonic()
    with pytest.raises(ProviderDown, match="larger than"):
        together.generate(make_request(), within_s=10.0)
    elapsed = time.monotonic() - started
    together.close()
    assert elapsed < 2.0
    assert stand_in.over(behaviour).wait(5)  # the server's sendall failed: the client has gone
    sent = stand_in.sent.get(behaviour, 0)
    # At most the cap and what the socket buffers held: far from the 40 MB.
    limit = 0 if behaviour == "huge-declared" else DEFAULT_MAX_ANSWER_BYTES
    assert sent < limit + 8 * 1024 * 1024 < HUGE_BYTES
