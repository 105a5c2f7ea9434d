"""The vendor stand-ins on one 127.0.0.1 port for ``make stack``: fal (sync API, queue API, signed
webhooks, its JWKS), Replicate (predictions with ``Prefer: wait``, signed webhooks), OpenAI (GPT
Image), Together (FLUX) and Hugging Face Inference Providers (text-to-image), each the shared stand-in of :mod:`stack.standins` (the tests use the
same ones in an httpx transport).

``python -m stack.providers [--latency-ms 200-800] [--failure-rate 0.0]`` prints ``STACK-READY
{"url", "fal_base_url", "fal_queue_base_url", "fal_jwks_url", "replicate_base_url",
"replicate_webhook_secret", "openai_base_url", "together_base_url", "fal_key", "replicate_token",
"openai_key", "together_key", "hf_base_url", "hf_token"}``.

- ``/fal/run/{model}``, ``/fal/queue/{model}?fal_webhook=URL`` (and the queue's request URLs),
  ``/fal/jwks``; ``/replicate/v1/...``; ``/openai/v1/images/generations``;
  ``/together/v1/images/generations``; ``/hf/hf-inference/models/{model}``: see each stand-in's module for the shapes and outcomes.
- ``POST /_stack/script {"vendor": "replicate", "outcomes": ["aborted"]}``: the outcomes of that
  vendor's next generations (``aborted``, ``slow``, ``nsfw``, ``error``, ``payload_error``...).
- ``GET /_stack/stats``: the generation calls, counted by (provider, model, prompt, seed), the
  distinct requests and the duplicates (one request made twice), failures and webhook deliveries.

Outputs are PNG ``data:`` URIs (the adapters refuse downloads from 127.0.0.1, as they must).
``--failure-rate`` answers that share of generation calls with 503.

A provider that answers nothing (a fault: the connection is accepted, no byte ever comes back):
``--silent fal`` from the start, or ``POST /_stack/silence {"providers": ["fal"]}`` at any time
(``[]`` to end it). Started again after a crash (``--port``: the same URLs), the stand-ins sign
with the same key (a fixed one: the app's cached JWKS stays valid); the jobs they were running are
lost, as a vendor's would be in an outage.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from stack.processes import announce_ready
from stack.standins import (
    FAL_KEY,
    HF_TOKEN,
    OPENAI_KEY,
    REPLICATE_SECRET,
    REPLICATE_TOKEN,
    TOGETHER_KEY,
    Shared,
    StandIns,
)

STATS_PATH = "/_stack/stats"
SCRIPT_PATH = "/_stack/script"
SILENCE_PATH = "/_stack/silence"
SILENCEABLE = ("fal", "replicate", "openai", "together", "hf")  # the first segment of a stand-in's path
SILENT_HOLD_S = 3600.0
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], standins: StandIns) -> None:
        self.standins = standins
        self.root = ""
        self.silent: set[str] = set()  # stand-ins that answer nothing
        self.stopping = threading.Event()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, response: httpx.Response) -> None:
        raw = response.content
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _silenced(self, path: str) -> bool:
        """For a provider that answers nothing: hold the request, never answer, close at the end."""
        if path.lstrip("/").split("/", 1)[0] not in self.server.silent:
            return False
        self.server.stopping.wait(SILENT_HOLD_S)
        self.close_connection = True
        return True

    def _handle(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        standins = self.server.standins
        path = urlsplit(self.path).path
        if self._silenced(path):
            return
        if path == SILENCE_PATH and self.command == "POST":
            try:
                names = json.loads(raw or b"{}")["providers"]
                if not isinstance(names, list) or not all(n in SILENCEABLE for n in names):
                    raise TypeError(names)
            except (ValueError, KeyError, TypeError):
                expected = " | ".join(f'"{n}"' for n in SILENCEABLE)
                self._send(
                    httpx.Response(400, json={"detail": f'expected {{"providers": [{expected}, ...]}}'})
                )
                return
            self.server.silent = set(names)
            self._send(httpx.Response(200, json={"silent": sorted(names)}))
            return
        if path == STATS_PATH:
            self._send(httpx.Response(200, json=standins.shared.stats()))
            return
        if path == "/fal/jwks":
            self._send(httpx.Response(200, json=standins.fal.jwks()))
            return
        if path == SCRIPT_PATH and self.command == "POST":
            try:
                doc = json.loads(raw or b"{}")
                standins.shared.script(str(doc["vendor"]), *[str(o) for o in doc["outcomes"]])
            except (ValueError, KeyError, TypeError):
                self._send(httpx.Response(400, json={"detail": "expected {vendor, outcomes}"}))
                return
            self._send(httpx.Response(204))
            return
        request = httpx.Request(
            self.command,
            self.server.root + self.path,
            headers=[(k, v) for k, v in self.headers.items() if k.lower() != "host"],
            content=raw,
        )
        answer = standins.route(request, self.server.root)
        self._send(answer if answer is not None else httpx.Response(404, json={"detail": "Not Found"}))

    do_GET = do_POST = do_PUT = _handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.providers", description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", default="200-800", help="each generation takes MIN-MAX ms")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="share of calls answered 503")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--port", type=int, default=0, help="default: a free one (again: the same)")
    parser.add_argument("--silent", action="append", default=[], choices=SILENCEABLE, help="answers nothing")
    args = parser.parse_args(argv)
    low, _, high = args.latency_ms.partition("-")
    shared = Shared((int(low), int(high or low)), args.failure_rate, args.seed)
    standins = StandIns(shared)
    server = _Server(("127.0.0.1", args.port), standins)
    server.silent = set(args.silent)
    server.root = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="providers", daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    url = server.root
    announce_ready(
        url=url,
        stats_url=url + STATS_PATH,
        fal_base_url=f"{url}/fal/run",
        fal_queue_base_url=f"{url}/fal/queue",
        fal_jwks_url=f"{url}/fal/jwks",
        replicate_base_url=f"{url}/replicate",
        fal_key=FAL_KEY,
        replicate_token=REPLICATE_TOKEN,
        replicate_webhook_secret=REPLICATE_SECRET,
        openai_base_url=f"{url}/openai",
        together_base_url=f"{url}/together",
        openai_key=OPENAI_KEY,
        together_key=TOGETHER_KEY,
        hf_base_url=f"{url}/hf",
        hf_token=HF_TOKEN,
    )
    stop.wait()
    server.stopping.set()  # release the held requests of a silent provider
    server.shutdown()
    shared.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
