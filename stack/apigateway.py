"""A local stand-in for API Gateway's WebSocket management API, for the push channel's tests.

It speaks what ``apigatewaymanagementapi`` sends, as the AWS API reference documents it:
``POST /{stage}/@connections/{connectionId}`` with the message as the raw body → 200; a connection
that is not open → 410 with ``x-amzn-ErrorType: GoneException``; ``DELETE`` the same path closes
it (204). Knobs: :meth:`ApiGatewayHarness.open` / :meth:`~ApiGatewayHarness.drop` a connection,
:meth:`~ApiGatewayHarness.fail_with` a status, :meth:`~ApiGatewayHarness.delay` each answer;
every request is counted (``requests``).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

STAGE = "v1api"


class ApiGatewayHarness:
    def __init__(self) -> None:
        self.inboxes: dict[str, queue.Queue[str]] = {}
        self.requests: list[tuple[str, str]] = []
        self.status: int | None = None
        self.delay_s = 0.0
        self.release = threading.Event()  # set: a delayed answer goes out at once
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        if self.server is None:
            raise RuntimeError("the harness is not running")
        return f"http://127.0.0.1:{self.server.server_address[1]}/{STAGE}"

    def open(self, connection_id: str) -> queue.Queue[str]:
        with self.lock:
            return self.inboxes.setdefault(connection_id, queue.Queue())

    def drop(self, connection_id: str) -> None:
        with self.lock:
            self.inboxes.pop(connection_id, None)

    def fail_with(self, status: int | None) -> None:
        self.status = status

    def delay(self, seconds: float) -> None:
        self.delay_s = seconds


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _connection_id(self) -> str | None:
        prefix = f"/{STAGE}/@connections/"
        return unquote(self.path[len(prefix) :]) if self.path.startswith(prefix) else None

    def _answer(self, status: int, body: dict[str, Any] | None = None, error_type: str = "") -> None:
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self, method: str) -> None:
        harness: ApiGatewayHarness = self.server.harness
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        connection_id = self._connection_id()
        with harness.lock:
            harness.requests.append((method, connection_id or self.path))
        if harness.delay_s:
            harness.release.wait(harness.delay_s)
        if harness.status is not None:
            self._answer(harness.status, {"message": "Internal server error"}, "InternalServerErrorException")
            return
        with harness.lock:
            inbox = harness.inboxes.get(connection_id or "")
            if method == "DELETE" and inbox is not None:
                harness.inboxes.pop(connection_id or "", None)
        if connection_id is None:
            self._answer(404, {"message": "Not Found"})
        elif inbox is None:
            self._answer(410, {"message": None}, "GoneException")
        elif method == "DELETE":
            self._answer(204)
        else:
            inbox.put(raw.decode())
            self._answer(200)

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


@contextmanager
def running_apigw() -> Iterator[ApiGatewayHarness]:
    harness = ApiGatewayHarness()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.harness = harness  # type: ignore[attr-defined]
    harness.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield harness
    finally:
        harness.release.set()
        server.shutdown()
        server.server_close()
