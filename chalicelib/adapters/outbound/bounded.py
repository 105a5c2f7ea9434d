"""Outbound HTTP within one total deadline and a size cap: what the image download, the provider
adapters and the Upstash client share.

httpx's timeouts bound each phase on its own (the connect, each read, each write): a server that
sends one byte every few seconds never trips a read timeout and holds a call as long as it likes,
and a body is read whole unless the caller streams it. The pieces here bound the *total*:

- :func:`call_deadline`: the deadline of the calls made inside it (a context variable, so it stays
  with the calling thread; nested deadlines keep the earlier one);
- :class:`DeadlineBackend`: the socket layer under a transport (:class:`DeadlineTransport`, and
  the SSRF guard's ``GuardedTransport``): every socket operation (connect, TLS handshake, each
  write, each read, the status line and headers included) gets at most what is left of that
  deadline, and none starts once it has passed (a ``httpcore`` timeout, which httpx raises as
  :class:`httpx.TimeoutException`);
- :func:`read_capped`: a body read as a stream, stopped past ``max_bytes`` (``Content-Length``
  first) or past the deadline, never buffered whole; optionally gzip/deflate inflated chunk by
  chunk under the same cap (no decompression bomb); raises :class:`BodyRefused`;
- :class:`DeadlineStream` and :func:`cap_timeouts`: the same deadline for a transport that wraps
  another one it cannot reach the sockets of (the Upstash client's).

Deadlines are :func:`time.monotonic` values.
"""

from __future__ import annotations

import contextvars
import ssl
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import httpcore
import httpx

__all__ = [
    "BodyRefused",
    "DeadlineBackend",
    "DeadlineStream",
    "DeadlineTransport",
    "call_deadline",
    "cap_timeouts",
    "current_deadline",
    "read_capped",
]

BodyRefusal = Literal["too_large", "timeout", "encoding"]

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("outbound_deadline", default=None)


class BodyRefused(Exception):
    """A body was not read to its end: ``reason`` says why (never the URL: it may be signed)."""

    def __init__(self, reason: BodyRefusal, message: str) -> None:
        super().__init__(message)
        self.reason: BodyRefusal = reason


# --------------------------------------------------------------------------------------------
# The deadline of the calls in progress
# --------------------------------------------------------------------------------------------


def current_deadline() -> float | None:
    """The deadline of the calls made now in this context (``time.monotonic``), if any."""
    return _deadline.get()


@contextmanager
def call_deadline(seconds: float | None) -> Iterator[float | None]:
    """Every call inside ends within ``seconds`` from now (None: no deadline of its own); an outer
    deadline that comes first still applies. Yields the deadline in force."""
    outer = _deadline.get()
    deadline = None if seconds is None else time.monotonic() + max(0.0, seconds)
    if outer is not None:
        deadline = outer if deadline is None else min(outer, deadline)
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


def cap_timeouts(timeouts: Mapping[str, Any], remaining: float) -> dict[str, float]:
    """httpx's per-phase timeouts (``request.extensions["timeout"]``), each cut to ``remaining``."""
    capped: dict[str, float] = {}
    for name in ("connect", "read", "write", "pool"):
        configured = timeouts.get(name)
        capped[name] = remaining if configured is None else min(float(configured), remaining)
    return capped


def _cut(timeout: float | None, error: type[Exception]) -> float | None:
    """A socket operation's timeout, cut to what is left of the deadline in force."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the call ran out of time")
    return left if timeout is None else min(timeout, left)


# --------------------------------------------------------------------------------------------
# The socket layer
# --------------------------------------------------------------------------------------------


class _DeadlineNetworkStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # One write of the whole buffer: a peer that drains it slowly is bounded by the socket
        # timeout, itself cut to the deadline.
        self._inner.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _cut(timeout, httpcore.ConnectTimeout))
        return _DeadlineNetworkStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """A network backend whose every socket operation ends by the deadline in force."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host,
            port,
            timeout=_cut(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineNetworkStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, timeout=_cut(timeout, httpcore.ConnectTimeout), socket_options=socket_options
        )
        return _DeadlineNetworkStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's default transport (same limits), over a :class:`DeadlineBackend`."""

    def __init__(self) -> None:
        ssl_context = httpx.create_ssl_context()  # one (loading the CA bundle is not free)
        super().__init__(verify=ssl_context)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=DeadlineBackend(),
        )


class DeadlineStream(httpx.SyncByteStream):
    """A response body that stops with a timeout once ``deadline`` has passed."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: float, request: httpx.Request) -> None:
        self._inner = inner
        self._deadline = deadline
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout("the call ran out of time", request=self._request)
            yield chunk

    def close(self) -> None:
        self._inner.close()


# --------------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------------


def read_capped(
    response: httpx.Response,
    max_bytes: int,
    deadline: float | None = None,
    *,
    inflate: bool = False,
    truncate: bool = False,
) -> bytes:
    """The body of ``response``, read as a stream: at most ``max_bytes`` (after inflating), and
    only until ``deadline`` (``time.monotonic``; the one in force if None).

    ``inflate``: a gzip or deflate body is inflated chunk by chunk, never past the cap; without
    it (or with another encoding) an encoded body is refused, as the raw bytes are what is
    counted. ``truncate``: past the cap, the first ``max_bytes`` are returned instead of refused
    (an error answer's message). Raises :class:`BodyRefused`; transport errors are httpx's.
    """
    deadline = current_deadline() if deadline is None else deadline
    length = response.headers.get("content-length", "").strip()
    if not truncate and length.isdigit() and int(length) > max_bytes:
        raise BodyRefused("too_large", "the answer is larger than allowed")
    if response.is_stream_consumed:
        # Built from bytes (test transports): read and decoded already; only the cap applies.
        chunks: Iterable[bytes] = (response.content,)
        inflater = None
    else:
        chunks = response.iter_raw()
        inflater = _inflater(response.headers.get("content-encoding", ""), inflate)
    parts: list[bytes] = []
    total = 0
    for chunk in chunks:
        if deadline is not None and time.monotonic() > deadline:  # a slow drip ends at the deadline
            raise BodyRefused("timeout", "the answer took too long")
        room = max_bytes - total
        data = chunk if inflater is None else _inflate(inflater, chunk, room + 1)
        if len(data) > room:
            if truncate:
                parts.append(data[:room])
                return b"".join(parts)
            raise BodyRefused("too_large", "the answer is larger than allowed")
        total += len(data)
        parts.append(data)
    if inflater is not None:
        rest = _inflate(inflater, b"", max_bytes - total + 1)
        if total + len(rest) > max_bytes:
            if truncate:
                return b"".join([*parts, rest[: max_bytes - total]])
            raise BodyRefused("too_large", "the answer is larger than allowed")
        parts.append(rest)
    return b"".join(parts)


def _inflate(inflater: Any, chunk: bytes, limit: int) -> bytes:
    try:
        data: bytes = inflater.decompress(chunk, limit)
    except zlib.error:
        raise BodyRefused("encoding", "the answer could not be inflated") from None
    return data


def _inflater(encoding: str, inflate: bool) -> Any:
    """A zlib decompressor for a gzip/deflate body (None for identity); refuses anything else."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if inflate and encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # a gzip or zlib header, detected
    raise BodyRefused("encoding", f"the answer is content-encoded ({encoding[:20]})")
