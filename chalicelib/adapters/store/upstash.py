"""The state store's :class:`RedisClient` on Upstash Redis's REST API, spoken directly over httpx.

The protocol is small (Upstash's REST API docs): ``POST /`` with the command as a JSON array and
``Authorization: Bearer <token>``; with ``Upstash-Encoding: base64`` every bulk string of the reply
comes base64-encoded (binary-safe); ``{"result": ...}`` or, for Redis's own error reply,
``{"error": ...}`` (with status 400); ``Upstash-Sync-Token`` gives read-your-writes across replicas.
We used to go through the ``upstash-redis`` library, but replaced or switched off most of it (its
client has no timeout, it retries anything after 3 s, it never looks at the status code) and its
import alone (asyncio included) was a sizeable share of a Lambda cold start.

What this adapter guarantees (see docs/architecture.md, "Principles"):

- **Bounded time.** An explicit :class:`httpx.Timeout`, and a transport that enforces one *total*
  budget per call (every connect, write and read of every attempt draws on the same deadline,
  response bytes included); a blocking command (``BLPOP``) gets its block on top.
- **No blind retries.** Scripts are sent once (EVALSHA, then EVAL with the source only on
  ``NOSCRIPT``, which means the script did not run). Only read-only commands retry, once, on a
  connection error or timeout, and only while the budget lasts.
- **Status codes.** Every status other than 200 and 400 (Upstash's "the command failed", with
  ``{"error": ...}``) is a failure, never parsed as a reply.
- **One error type.** Connection refused, timeout, 401, 5xx, an error reply or a malformed reply all
  become :class:`chalicelib.ports.StoreError`; its message never holds the token, and it does not
  chain the httpx exception (whose request carries the ``Authorization`` header).
- **No telemetry** headers are sent.

Replies come back in the shapes redis-py gives with ``decode_responses=True`` (the embedded
adapter's): ``str``, ``int``, lists, ``None`` for nil, a ``dict`` for ``HGETALL``, ``True`` for
``SET`` (``None`` where ``NX`` refused it).
"""

from __future__ import annotations

import threading
import time
from base64 import b64decode
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


class _ErrorReply(Exception):
    """Redis's own error reply (``{"error": ...}``): the command ran and failed, or did not run."""


def _decoded(raw: Any) -> Any:
    """A ``Upstash-Encoding: base64`` result as text: every bulk string is base64, except the
    status reply ``OK``; integers, nil and (nested) arrays are JSON's own."""
    if isinstance(raw, str):
        return "OK" if raw == "OK" else b64decode(raw).decode()
    if isinstance(raw, list):
        return [_decoded(item) for item in raw]
    if raw is None or (isinstance(raw, int) and not isinstance(raw, bool)):
        return raw
    raise ValueError(f"unexpected result type {type(raw).__name__}")


def _shaped(command: Sequence[str], reply: Any) -> Any:
    """The reply in redis-py's shape (``decode_responses=True``) where it differs from the wire's,
    for the commands the store sends: the embedded adapter answers the same."""
    name = command[0]
    if name == "HGETALL" and isinstance(reply, list):
        return dict(zip(reply[::2], reply[1::2], strict=True))
    if name == "SET" and "GET" not in command[3:]:
        return True if reply == "OK" else None
    if name == "EXPIRE":
        return bool(reply)
    if name == "INCRBYFLOAT" and reply is not None:
        return float(reply)
    return reply


def _wire(value: Arg) -> str:
    """Arguments as redis-py sends them: ints as digits, floats by ``repr``, strings as they are."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _is_noscript(exc: Exception) -> bool:
    return isinstance(exc, _ErrorReply) and str(exc).startswith("NOSCRIPT")


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
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {secret}", "Upstash-Encoding": "base64"}
        # Read-your-writes: each reply's sync token goes with the next request, so that a replica
        # never answers with older data than this client has written (Upstash's consistency).
        self._read_your_writes = read_your_writes
        self._sync_token = ""

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
        return f"UpstashClient(url={self._url!r})"

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
                    return self._execute(command)
                except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
                    attempt += 1
                    if attempt > retries or deadline - time.monotonic() < MIN_RETRY_SECONDS:
                        raise
        finally:
            self._local.deadline = None

    def _execute(self, command: list[str]) -> Any:
        """One REST call: ``POST /`` with the command as a JSON array (Upstash's protocol)."""
        headers = self._headers
        if self._read_your_writes and self._sync_token:
            headers = {**headers, "Upstash-Sync-Token": self._sync_token}
        response = self._http.post(self._url, headers=headers, json=command)
        token = response.headers.get("upstash-sync-token")
        if token and self._read_your_writes:
            self._sync_token = token  # a str: replaced whole, safe across threads
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError("the reply is not a JSON object")
        if body.get("error"):
            raise _ErrorReply(str(body["error"]))
        return _shaped(command, _decoded(body["result"]))

    def _error(self, what: str, exc: Exception) -> StoreError:
        if isinstance(exc, _HttpStatusError):
            detail = f"HTTP {exc.status}"
            if exc.status in (401, 403):
                detail += " (the REST token was refused)"
        elif isinstance(exc, httpx.TimeoutException):
            detail = "timed out"
        elif isinstance(exc, httpx.TransportError):
            detail = f"unreachable ({type(exc).__name__})"
        elif isinstance(exc, _ErrorReply):
            detail = "error reply: " + self._redact(str(exc))[:200]
        else:
            detail = f"malformed reply ({type(exc).__name__})"
        return StoreError(f"state store {what} failed: {detail}")

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***")
