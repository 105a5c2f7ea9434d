"""The stack's front door: one 127.0.0.1 port, each request to the next API process in turn.

``python -m stack.front [--port N]`` prints ``STACK-READY {"url"}``; the supervisor sets the API
processes with ``POST /_stack/backends {"urls": [...]}`` (again after each restart, of an API
process or of the front, which is started again on the same port). A backend that refuses
the connection is skipped (no request reached it); one that fails after the request was sent
answers 502 in the contract's error shape, as API Gateway answers a crashed Lambda: the request
may have been processed, so it is not sent again. ``GET /_stack/stats`` counts the answers.
"""

from __future__ import annotations

import http.client
import itertools
import json
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from stack.processes import announce_ready

CONTROL = "/_stack/"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
BAD_GATEWAY = json.dumps(
    {"error": {"code": "internal", "message": "The service is unavailable; please retry."}}
).encode()


class Front(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.backends: list[tuple[str, int]] = []
        self.turn = itertools.count()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def order(self) -> list[tuple[str, int]]:
        with self.lock:
            backends = list(self.backends)
            start = next(self.turn)
        if not backends:
            return []
        first = start % len(backends)
        return backends[first:] + backends[:first]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Front

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with self.server.lock:
            self.server.counts[str(status)] += 1

    def _control(self, body: bytes) -> None:
        if self.command == "POST" and self.path == CONTROL + "backends":
            urls = json.loads(body)["urls"]
            parsed = [urlsplit(u) for u in urls]
            with self.server.lock:
                self.server.backends = [(p.hostname or "127.0.0.1", p.port or 80) for p in parsed]
            self._reply(200, b"{}", [("Content-Type", "application/json")])
        elif self.path == CONTROL + "stats":
            with self.server.lock:
                doc = {"answers": dict(self.server.counts), "backends": len(self.server.backends)}
            self._reply(200, json.dumps(doc).encode(), [("Content-Type", "application/json")])
        else:
            self._reply(404, b"{}", [("Content-Type", "application/json")])

    def _proxy(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith(CONTROL):
            self._control(body)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        for backend in self.server.order():
            # A connection per request: a reused one that the backend closed would look like a crash.
            conn = http.client.HTTPConnection(*backend, timeout=60)
            try:
                conn.connect()
            except OSError:
                conn.close()
                continue  # refused: nothing was sent, the next process takes it
            try:
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self._reply(502, BAD_GATEWAY, [("Content-Type", "application/json"), ("Retry-After", "5")])
                return
            finally:
                conn.close()
            self._reply(response.status, payload, response.getheaders())
            return
        self._reply(502, BAD_GATEWAY, [("Content-Type", "application/json"), ("Retry-After", "5")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _proxy


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m stack.front", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="default: a free one (again: the same)")
    front = Front(parser.parse_args(argv).port)
    threading.Thread(target=front.serve_forever, name="front", daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    announce_ready(url=f"http://127.0.0.1:{front.server_address[1]}")
    stop.wait()
    front.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
