"""Stand-in image providers in the vendors' wire shapes: fal (sync API, queue API, signed webhooks,
its JWKS) and Replicate (predictions with ``Prefer: wait``, webhooks signed per Standard Webhooks).

``python -m stack.providers [--latency-ms 200-800] [--failure-rate 0.0]`` serves both on one
127.0.0.1 port and prints ``STACK-READY {"url", "fal_base_url", "fal_queue_base_url",
"fal_jwks_url", "replicate_base_url", "replicate_webhook_secret", "fal_key", "replicate_token"}``.

- fal: ``POST /fal/run/{model}`` answers the output; ``POST /fal/queue/{model}?fal_webhook=URL``
  answers ``request_id``, ``status_url``, ``response_url``, ``cancel_url`` and, after the latency,
  POSTs ``{"request_id", "gateway_request_id", "status": "OK", "payload"}`` to the webhook with the
  ``X-Fal-Webhook-*`` headers (ED25519 over ``request_id``, ``user_id``, timestamp, SHA-256 of the
  body) verifiable with ``GET /fal/jwks``.
- Replicate: ``POST /replicate/v1/models/{owner}/{name}/predictions`` (``Prefer: wait=N`` holds the
  answer until done; else ``starting`` and, with ``webhook``, a signed POST of the finished
  prediction); ``GET /replicate/v1/predictions/{id}``; ``POST .../{id}/cancel``.

Outputs are PNG ``data:`` URIs (fal's ``sync_mode`` form; the adapters refuse downloads from
127.0.0.1, as they must). ``--failure-rate`` answers that share of generation calls with 503.
Every generation call is counted by (provider, model, prompt, seed): ``GET /_stack/stats`` answers
the calls, the distinct requests and the duplicates (one request made twice).

A provider that answers nothing (a fault: the connection is accepted, no byte ever comes back):
``--silent fal`` from the start, or ``POST /_stack/silence {"providers": ["fal"]}`` at any time
(``[]`` to end it). Started again after a crash (``--port``: the same URLs), the stand-ins sign
with the same key (a fixed one: the app's cached JWKS stays valid); the jobs they were running are
lost, as a vendor's would be in an outage.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from stack.processes import announce_ready

FAL_KEY = "stack-fal-key:0123456789abcdef"
REPLICATE_TOKEN = "r8_stack_token_0123456789abcdef"  # noqa: S105 - a stand-in's fixed credential
REPLICATE_SECRET = "whsec_" + base64.b64encode(b"stack-replicate-signing-secret-32").decode()
STATS_PATH = "/_stack/stats"
SILENCE_PATH = "/_stack/silence"
FAL_SIGNING_SEED = b"stack-fal-webhook-signing-key-32"  # 32 bytes: an ED25519 private key
SILENT_HOLD_S = 3600.0
_SIZES = {"square_hd": 1024, "square": 512, "landscape_4_3": 1024}


def _png(size: int, seed: int) -> str:
    from PIL import Image

    shade = seed % 200
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (shade, 90, 200 - shade)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class Vendors:
    """The stand-ins' state: jobs, counts, the webhook sender."""

    def __init__(self, latency_ms: tuple[int, int], failure_rate: float, seed: int) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.random = random.Random(seed)
        self.fal_key = Ed25519PrivateKey.from_private_bytes(FAL_SIGNING_SEED)
        self.silent: set[str] = set()  # providers that answer nothing
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.failures = 0
        self.webhooks: Counter[str] = Counter()  # "fal:200", "replicate:503", ...
        self.fal_jobs: dict[str, dict[str, Any]] = {}
        self.predictions: dict[str, dict[str, Any]] = {}
        self.senders = ThreadPoolExecutor(max_workers=16, thread_name_prefix="webhook")
        self._images: dict[tuple[int, int], str] = {}
        self.base_url = ""

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
        key = (size, seed % 16)
        with self.lock:
            cached = self._images.get(key)
        if cached is None:
            cached = _png(size, seed)
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

    # -- webhooks ------------------------------------------------------------------------------------

    def fal_jwks(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self.fal_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "stack-fal-1"}]}

    def deliver(self, provider: str, url: str, body: bytes, sign: Callable[[], dict[str, str]]) -> None:
        """POST a webhook, signed afresh for each attempt; retried with a growing gap on a failure
        (fal and Replicate retry for hours; here for about three minutes)."""
        import httpx

        for attempt in range(10):
            try:
                status = httpx.post(url, content=body, headers=sign(), timeout=30.0).status_code
            except httpx.HTTPError:
                status = 0
            with self.lock:
                self.webhooks[f"{provider}:{status}"] += 1
            if 200 <= status < 300:
                return
            time.sleep(min(30.0, 0.5 * 2**attempt))

    def fal_webhook(self, url: str, request_id: str, payload: dict[str, Any]) -> None:
        from chalicelib.webhook_signatures import fal_signed_message

        body = json.dumps(
            {"request_id": request_id, "gateway_request_id": request_id, "status": "OK", "payload": payload}
        ).encode()

        def sign() -> dict[str, str]:
            ts = str(int(time.time()))
            signature = self.fal_key.sign(fal_signed_message(request_id, "stack-user", ts, body)).hex()
            return {
                "Content-Type": "application/json",
                "X-Fal-Webhook-Request-Id": request_id,
                "X-Fal-Webhook-User-Id": "stack-user",
                "X-Fal-Webhook-Timestamp": ts,
                "X-Fal-Webhook-Signature": signature,
            }

        self.deliver("fal", url, body, sign)

    def replicate_webhook(self, url: str, prediction: dict[str, Any]) -> None:
        from chalicelib.webhook_signatures import sign_standard_webhook

        body = json.dumps(prediction).encode()
        msg_id = f"msg_{uuid.uuid4().hex}"  # the same id on every attempt (Standard Webhooks)

        def sign() -> dict[str, str]:
            ts = int(time.time())
            return {
                "Content-Type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": sign_standard_webhook(REPLICATE_SECRET, msg_id, ts, body),
            }

        self.deliver("replicate", url, body, sign)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], vendors: Vendors) -> None:
        self.vendors = vendors
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, doc: Any) -> None:
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> dict[str, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            doc = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def _silenced(self, path: str) -> bool:
        """For a provider that answers nothing: hold the request, never answer, close at the end."""
        vendors = self.server.vendors
        provider = path.lstrip("/").split("/", 1)[0]
        if provider not in vendors.silent:
            return False
        vendors.stopping.wait(SILENT_HOLD_S)
        self.close_connection = True
        return True

    def do_GET(self) -> None:
        vendors = self.server.vendors
        path = urlsplit(self.path).path
        if self._silenced(path):
            return
        if path == STATS_PATH:
            self._answer(200, vendors.stats())
        elif path == "/fal/jwks":
            self._answer(200, vendors.fal_jwks())
        elif path.startswith("/fal/queue/requests/"):
            self._fal_request(path)
        elif path.startswith("/replicate/v1/predictions/"):
            if not self._replicate_auth():
                return
            prediction = vendors.predictions.get(path.rsplit("/", 1)[1])
            self._answer(200, prediction) if prediction else self._answer(404, {"detail": "Not found."})
        else:
            self._answer(404, {"detail": "Not Found"})

    def do_PUT(self) -> None:  # fal's cancel
        self._body()
        if self._silenced(urlsplit(self.path).path):
            return
        self._answer(200, {"status": "CANCELLATION_REQUESTED"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if path == SILENCE_PATH:
            names = body.get("providers")
            if not isinstance(names, list) or not all(n in ("fal", "replicate") for n in names):
                self._answer(400, {"detail": 'expected {"providers": ["fal" | "replicate", ...]}'})
                return
            self.server.vendors.silent = set(names)
            self._answer(200, {"silent": sorted(names)})
            return
        if self._silenced(path):
            return
        if path.startswith("/fal/run/"):
            self._fal_sync(path[len("/fal/run/") :], body)
        elif path.startswith("/fal/queue/"):
            self._fal_submit(path[len("/fal/queue/") :], body)
        elif path.startswith("/replicate/v1/models/") and path.endswith("/predictions"):
            self._replicate_create(path[len("/replicate/v1/models/") : -len("/predictions")], body)
        elif path.startswith("/replicate/v1/predictions/") and path.endswith("/cancel"):
            self._answer(200, {"status": "canceled"})
        else:
            self._answer(404, {"detail": "Not Found"})

    # -- fal -------------------------------------------------------------------------------------------

    def _fal_auth(self) -> bool:
        if self.headers.get("Authorization") != f"Key {FAL_KEY}":
            self._answer(401, {"detail": "No user found for Key ID and Secret"})
            return False
        return True

    def _fal_output(self, body: dict[str, Any]) -> dict[str, Any]:
        size = body.get("image_size")
        side = _SIZES.get(size, 1024) if isinstance(size, str) else int((size or {}).get("width", 1024))
        seed = int(body.get("seed") or 0)
        url = self.server.vendors.image(side, seed)
        return {
            "images": [{"url": url, "width": side, "height": side, "content_type": "image/png"}],
            "timings": {"inference": 0.1},
            "seed": seed,
            "has_nsfw_concepts": [False],
            "prompt": body.get("prompt", ""),
        }

    def _fal_sync(self, model: str, body: dict[str, Any]) -> None:
        vendors = self.server.vendors
        if not self._fal_auth():
            return
        time.sleep(vendors.latency())
        if vendors.fails():
            self._answer(503, {"detail": "Service temporarily unavailable"})
            return
        vendors.count("fal", model, str(body.get("prompt")), body.get("seed"))
        self._answer(200, self._fal_output(body))

    def _fal_submit(self, model: str, body: dict[str, Any]) -> None:
        vendors = self.server.vendors
        if not self._fal_auth():
            return
        if vendors.fails():
            self._answer(503, {"detail": "Service temporarily unavailable"})
            return
        vendors.count("fal", model, str(body.get("prompt")), body.get("seed"))
        request_id = str(uuid.uuid4())
        base = f"{vendors.base_url}/fal/queue/requests/{request_id}"
        done_at = time.time() + vendors.latency()
        output = self._fal_output(body)
        job: dict[str, Any] = {
            "status": "IN_QUEUE",
            "output": output,
            "done_at": done_at,
        }
        with vendors.lock:
            vendors.fal_jobs[request_id] = job
        webhook = parse_qs(urlsplit(self.path).query).get("fal_webhook", [""])[0]

        def finish() -> None:
            time.sleep(max(0.0, done_at - time.time()))
            job["status"] = "COMPLETED"
            if webhook:
                vendors.fal_webhook(webhook, request_id, output)

        vendors.senders.submit(finish)
        self._answer(
            200,
            {
                "request_id": request_id,
                "status_url": f"{base}/status",
                "response_url": base,
                "cancel_url": f"{base}/cancel",
                "queue_position": 0,
            },
        )

    def _fal_request(self, path: str) -> None:
        vendors = self.server.vendors
        if not self._fal_auth():
            return
        parts = path[len("/fal/queue/requests/") :].split("/")
        job = vendors.fal_jobs.get(parts[0])
        if job is None:
            self._answer(404, {"detail": "Request not found"})
        elif len(parts) > 1 and parts[1] == "status":
            doc: dict[str, Any] = {"status": job["status"], "logs": []}
            if job["status"] == "IN_QUEUE":
                doc["queue_position"] = 0
            self._answer(200, doc)
        elif job["status"] != "COMPLETED":
            self._answer(400, {"detail": "Request is still in progress"})
        else:
            self._answer(200, job["output"])

    # -- Replicate -------------------------------------------------------------------------------------

    def _replicate_auth(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {REPLICATE_TOKEN}":
            self._answer(
                401,
                {
                    "title": "Unauthenticated",
                    "detail": "You did not pass a valid authentication token",
                    "status": 401,
                },
            )
            return False
        return True

    def _replicate_create(self, model: str, body: dict[str, Any]) -> None:
        vendors = self.server.vendors
        if not self._replicate_auth():
            return
        if vendors.fails():
            self._answer(503, {"detail": "Service temporarily unavailable"})
            return
        model_input = body.get("input") if isinstance(body.get("input"), dict) else {}
        assert isinstance(model_input, dict)  # noqa: S101 - for the type checker
        vendors.count("replicate", model, str(model_input.get("prompt")), model_input.get("seed"))
        prediction_id = uuid.uuid4().hex[:26]
        base = f"{vendors.base_url}/replicate/v1/predictions/{prediction_id}"
        prediction: dict[str, Any] = {
            "id": prediction_id,
            "model": model,
            "version": "stack",
            "input": model_input,
            "status": "starting",
            "output": None,
            "error": None,
            "logs": "",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "urls": {"get": base, "cancel": f"{base}/cancel"},
        }
        with vendors.lock:
            vendors.predictions[prediction_id] = prediction
        latency = vendors.latency()
        image = vendors.image(1024, int(model_input.get("seed") or 0))

        def finish() -> None:
            prediction.update(status="succeeded", output=[image], metrics={"predict_time": latency})

        if (self.headers.get("Prefer") or "").startswith("wait"):
            time.sleep(latency)
            finish()
            self._answer(201, prediction)
            return
        webhook = body.get("webhook")

        def later() -> None:
            time.sleep(latency)
            finish()
            if isinstance(webhook, str) and webhook:
                vendors.replicate_webhook(webhook, prediction)

        vendors.senders.submit(later)
        self._answer(201, prediction)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.providers", description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", default="200-800", help="each generation takes MIN-MAX ms")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="share of calls answered 503")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--port", type=int, default=0, help="default: a free one (again: the same)")
    parser.add_argument(
        "--silent", action="append", default=[], choices=["fal", "replicate"], help="answers nothing"
    )
    args = parser.parse_args(argv)
    low, _, high = args.latency_ms.partition("-")
    vendors = Vendors((int(low), int(high or low)), args.failure_rate, args.seed)
    vendors.silent = set(args.silent)
    server = _Server(("127.0.0.1", args.port), vendors)
    vendors.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="providers", daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    url = vendors.base_url
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
    )
    stop.wait()
    vendors.stopping.set()  # release the held requests of a silent provider
    server.shutdown()
    vendors.senders.shutdown(wait=False, cancel_futures=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
