"""The shared bounded reads: one total deadline per call, a size cap, incremental inflating."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from chalicelib.adapters.outbound.bounded import (
    BodyRefused,
    DeadlineBackend,
    call_deadline,
    current_deadline,
    read_capped,
)


def streamed(*chunks: bytes, pause_s: float = 0.0, encoding: str | None = None) -> httpx.Response:
    headers = {"Content-Encoding": encoding} if encoding else {}

    def body() -> Iterator[bytes]:
        for chunk in chunks:
            time.sleep(pause_s)
            yield chunk

    return httpx.Response(200, headers=headers, content=body())


def test_nested_deadlines_keep_the_earlier_one() -> None:
    assert current_deadline() is None
    with call_deadline(5.0) as outer:
        assert outer is not None
        with call_deadline(60.0) as inner:
            assert inner == outer
        with call_deadline(None) as same:
            assert same == outer
        with call_deadline(1.0) as sooner:
            assert sooner is not None and sooner < outer
    assert current_deadline() is None


def test_the_cap_refuses_or_truncates() -> None:
    assert read_capped(streamed(b"abc", b"def"), 6) == b"abcdef"
    with pytest.raises(BodyRefused) as raised:
        read_capped(streamed(b"abc", b"defg"), 6)
    assert raised.value.reason == "too_large"
    assert read_capped(streamed(b"abc", b"defg", b"never read"), 6, truncate=True) == b"abcdef"


def test_a_slow_body_stops_at_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(BodyRefused) as raised:
        read_capped(streamed(*([b"x"] * 50), pause_s=0.05), 1000, time.monotonic() + 0.3)
    assert raised.value.reason == "timeout"
    assert time.monotonic() - started < 0.6


def test_inflating_is_incremental_and_capped() -> None:
    text = b"hello " * 1000
    assert read_capped(streamed(gzip.compress(text), encoding="gzip"), 10_000, inflate=True) == text
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    with pytest.raises(BodyRefused) as raised:
        read_capped(streamed(bomb, encoding="gzip"), 1024 * 1024, inflate=True)
    assert raised.value.reason == "too_large"
    with pytest.raises(BodyRefused) as raised:
        read_capped(streamed(bomb, encoding="gzip"), 1024 * 1024)  # not asked to inflate
    assert raised.value.reason == "encoding"
    with pytest.raises(BodyRefused) as raised:
        read_capped(streamed(b"x", encoding="br"), 1024, inflate=True)
    assert raised.value.reason == "encoding"


def test_no_socket_operation_starts_past_the_deadline() -> None:
    backend = DeadlineBackend()
    with call_deadline(0.0), pytest.raises(httpcore.ConnectTimeout):
        backend.connect_tcp("127.0.0.1", 9, timeout=5.0)
