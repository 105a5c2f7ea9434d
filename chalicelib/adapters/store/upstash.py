"""The state store's :class:`RedisClient` on Upstash Redis (REST), through the ``upstash-redis`` library.

What the library does for us: the REST protocol (``POST /`` with a JSON command), the bearer token,
``Upstash-Encoding: base64`` replies and their decoding, and the read-your-writes sync token.
What it does not do, and this adapter adds (see ARCHITECTURE.md, "Principles"):

- **Bounded time.** The library builds ``httpx.Client(timeout=None)`` and offers no way to pass a
  client in, so we replace its private ``_http._client`` with a client that has an explicit
  :class:`httpx.Timeout` and a transport that enforces one *total* budget per call (every connect,
  write and read of every attempt draws on the same deadline, response bytes included).
- **No blind retries.** The library retries *any* exception after 3 s by default; we build it with
  ``rest_retries=0``. Scripts are sent once (EVALSHA, then EVAL with the source only on
  ``NOSCRIPT``, which means the script did not run). Only read-only commands retry, once, on a
  connection error or timeout, and only while the budget lasts.
- **Status codes.** The library never looks at the HTTP status (a 502 page becomes a JSON error or a
  decode error). The transport turns every status other than 200 and 400 (Upstash's "the command
  failed", with ``{"error": ...}``) into a typed failure.
- **One error type.** Connection refused, timeout, 401, 5xx, an error reply or a malformed reply all
  become :class:`chalicelib.ports.StoreError`; its message never holds the token, and it does not
  chain the httpx exception (whose request carries the ``Authorization`` header).
- **Telemetry off** unless asked for (``allow_telemetry=True``).

Replies come back in the shapes redis-py gives with ``decode_responses=True``: ``str``, ``int``,
lists, ``None`` for nil, and (through the library's per-command formatting) a ``dict`` for
``HGETALL`` and ``True`` for ``SET``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from chalicelib.adapters.outbound.bounded import DeadlineStream, cap_timeouts
from chalicelib.adapters.store.client import Arg
from chalicelib.adapters.store.scripts import LuaScript
from chalicelib.ports import StoreError

__all__ = ["DEFAULT_BUDGET_SECONDS", "DEFAULT_TIMEOUT", "READ_ONLY_COMMANDS", "UpstashClient"]

DEFAULT_TIMEOUT = httpx.Timeout(connect=1.0, read=2.0, write=1.0, pool=0.5)
DEFAULT_BUDGET_SECONDS = 2.8  # one call, every attempt and byte included: under the 3 s the API promises
READ_ONLY_COMMANDS = frozenset({"GET", "MGET", "HGETALL", "ZRANGE", "PING", "EXISTS"})
MIN_RETRY_SECONDS = 0.1  # a read is retried only if at least this much of the budget is left
_ACCEPTED_STATUSES = (200, 400)  # 400 carries Redis's own error reply as {"error": ...}


class _HttpStatusError(Exception):
    """The REST endpoint answered with a status that carries no Redis reply (401, 5xx, ...)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _BudgetTransport(httpx.BaseTransport):
    """Caps every timeout of a request at what is left of the calling thread's deadline, and refuses
    statuses that carry no Redis reply."""

    def __init__(self, inner: httpx.BaseTransport, local: threading.local) -> None:
        self._inner = inner
        self._local = local

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline: float | None = getattr(self._local, "deadline", None)
        blocking: float | None = getattr(self._local, "blocking", None)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpx.PoolTimeout("the state store call ran out of time", request=request)
            timeouts = dict(request.extensions.get("timeout") or {})
            if blocking is not None:  # a blocking command: its reply comes after the block
                timeouts["read"] = remaining
            request.extensions["timeout"] = cap_timeouts(timeouts, remaining)
        response = self._inner.handle_request(request)
        if response.status_code not in _ACCEPTED_STATUSES:
            response.close()
            raise _HttpStatusError(response.status_code)
        if deadline is None or not isinstance(response.stream, httpx.SyncByteStream):
            return response
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=DeadlineStream(response.stream, deadline, request),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()


def _library_client(
    url: str, token: str, client: httpx.Client, *, allow_telemetry: bool, read_your_writes: bool
) -> Any:
    """upstash-redis's ``Redis``, on our bounded ``client``.

    The library offers no way to pass an httpx client in: its constructor builds one (``timeout=None``,
    and a TLS context, ~18 ms of a cold start) that we would only replace. So the ``SyncHttpClient``
    it builds is swapped for a subclass that takes ours, for the time of the constructor. The
    library is pinned to 1.8.x; a version that moved these names fails here, loudly.
    """
    from upstash_redis import client as library
    from upstash_redis.http import SyncHttpClient

    class GivenClient(SyncHttpClient):
        def __init__(self, **kwargs: Any) -> None:
            self._encoding = kwargs["encoding"]
            self._retries = kwargs["retries"]
            self._retry_interval = kwargs["retry_interval"]
            self._sync_token_cb = kwargs.get("sync_token_cb")
            self._client = client

    namespace: dict[str, Any] = vars(library)  # the name the constructor looks up
    with _LIBRARY_LOCK:
        original = namespace["SyncHttpClient"]
        namespace["SyncHttpClient"] = GivenClient
        try:
            redis = library.Redis(
                url,
                token,
                rest_encoding="base64",
                rest_retries=0,  # we decide what may be retried, and within which budget
                rest_retry_interval=0,
                allow_telemetry=allow_telemetry,
                read_your_writes=read_your_writes,
            )
        finally:
            namespace["SyncHttpClient"] = original
    if not isinstance(getattr(redis, "_http", None), GivenClient):
        raise RuntimeError("upstash-redis internals changed (no _http); pin upstash-redis==1.8.*")
    return redis


_LIBRARY_LOCK = threading.Lock()


def _wire(value: Arg) -> str:
    """Arguments as redis-py sends them: ints as digits, floats by ``repr``, strings as they are."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _is_noscript(exc: Exception) -> bool:
    from upstash_redis.errors import UpstashError

    return isinstance(exc, UpstashError) and str(exc).startswith("NOSCRIPT")


class UpstashClient:
    """A :class:`chalicelib.adapters.store.client.RedisClient` on the Upstash REST API.

    One instance per container (thread-safe: one pooled ``httpx.Client``). ``transport`` is for
    tests (e.g. ``httpx.MockTransport``); the budget and status checks wrap whatever is given.
    """

    def __init__(
        self,
        url: str,
        token: str | SecretStr,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        budget_seconds: float = DEFAULT_BUDGET_SECONDS,
        read_retries: int = 1,
        transport: httpx.BaseTransport | None = None,
        allow_telemetry: bool = False,
        read_your_writes: bool = True,
        max_connections: int = 32,
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        if not secret:
            raise ValueError("the Upstash REST token is empty")
        if not url.startswith(("https://", "http://")):
            raise ValueError("the Upstash REST URL must be a full http(s) URL")
        if budget_seconds <= 0:
            raise ValueError("budget_seconds must be positive")
        self._secret = secret
        self._budget = budget_seconds
        self._read_retries = max(0, read_retries)
        self._local = threading.local()
        self._http = httpx.Client(
            timeout=timeout,
            transport=_BudgetTransport(transport or httpx.HTTPTransport(retries=0), self._local),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
        )
        self._redis = _library_client(
            url.rstrip("/"),
            secret,
            self._http,
            allow_telemetry=allow_telemetry,
            read_your_writes=read_your_writes,
        )
        # The library adds the sync-token header to its shared headers dict on the first call; adding
        # it now keeps that dict's size fixed while other threads copy it into their requests.
        headers = getattr(self._redis, "_headers", None)
        if isinstance(headers, dict) and read_your_writes:
            headers.setdefault("Upstash-Sync-Token", "")

    # -- RedisClient ---------------------------------------------------------------------------
    def run_script(
        self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg], *, timeout: float | None = None
    ) -> Any:
        tail = [str(len(keys)), *keys, *(_wire(a) for a in args)]
        deadline = self._deadline_for(timeout)
        what = f"script {script.name}"
        failure: StoreError | None = None
        try:
            return self._send(["EVALSHA", script.sha, *tail], deadline, retries=0)
        except Exception as exc:  # every failure becomes a StoreError below
            if not _is_noscript(exc):
                failure = self._error(what, exc)
        if failure is not None:
            raise failure
        # NOSCRIPT: the script did not run. EVAL runs it and caches it under the same SHA.
        return self._checked(what, ["EVAL", script.source, *tail], deadline, retries=0)

    def command(self, *args: Arg, timeout: float | None = None) -> Any:
        if not args:
            raise ValueError("command() needs a command name")
        name = str(args[0]).upper()
        retries = self._read_retries if name in READ_ONLY_COMMANDS else 0
        deadline = self._deadline_for(timeout)
        return self._checked(f"command {name}", [name, *(_wire(a) for a in args[1:])], deadline, retries)

    def _deadline_for(self, timeout: float | None) -> float:
        """The call's deadline: the usual budget, or a blocking call's own ``timeout`` plus the
        budget (the reply comes after the block); its reads may wait that long too."""
        self._local.blocking = timeout
        return time.monotonic() + self._budget + (timeout or 0.0)

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"UpstashClient(url={self._redis._url!r})"

    # -- plumbing ------------------------------------------------------------------------------
    def _checked(self, what: str, command: list[str], deadline: float, retries: int) -> Any:
        try:
            return self._send(command, deadline, retries)
        except Exception as exc:  # every failure becomes a StoreError below
            failure = self._error(what, exc)
        # Raised outside the handler: no __context__ chain to an httpx error holding the request.
        raise failure

    def _send(self, command: list[str], deadline: float, retries: int) -> Any:
        self._local.deadline = deadline
        try:
            attempt = 0
            while True:
                try:
                    return self._redis.execute(command)
                except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
                    attempt += 1
                    if attempt > retries or deadline - time.monotonic() < MIN_RETRY_SECONDS:
                        raise
        finally:
            self._local.deadline = None

    def _error(self, what: str, exc: Exception) -> StoreError:
        from upstash_redis.errors import UpstashError

        if isinstance(exc, _HttpStatusError):
            detail = f"HTTP {exc.status}"
            if exc.status in (401, 403):
                detail += " (the REST token was refused)"
        elif isinstance(exc, httpx.TimeoutException):
            detail = "timed out"
        elif isinstance(exc, httpx.TransportError):
            detail = f"unreachable ({type(exc).__name__})"
        elif isinstance(exc, UpstashError):
            detail = "error reply: " + self._redact(str(exc))[:200]
        else:
            detail = f"malformed reply ({type(exc).__name__})"
        return StoreError(f"state store {what} failed: {detail}")

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***")
