"""The stack's AWS side: moto in server mode as the SQS endpoint and the S3 endpoint standing in for R2.

``python -m stack.aws --plan PLAN.json`` serves moto on 127.0.0.1 (a free port, or ``--port``),
creates the image bucket, the photos' bucket and every queue with its DLQ (the lanes' and the
photo checks') as the plan (``stack/declarations.py``) says, and prints ``STACK-READY {"endpoint",
"public_url", "bucket", "buckets": {env name: bucket}, "queues": {lane: {"url", "dlq_url"}}}``.
Every request is counted by service and action; ``GET /_stack/stats`` answers the counts (not an
AWS endpoint).

``public_url`` (a second port, or ``--public-port``) is the bucket's public domain, as R2 serves a
bucket with public access on (``R2_PUBLIC_BASE_URL``): ``GET`` or ``HEAD /<key>`` with no
credentials answers the object with its stored ``Content-Type``, ``Cache-Control`` and ``ETag``, or
404; nothing else (no listing, no writes). moto's S3 endpoint itself answers an unsigned GET 403,
as R2's S3 endpoint does.

Started again on the same ports (``--port``, ``--public-port``), the queues are created again,
empty: moto keeps its state in memory only (SQS would keep the messages). The bucket's objects
come back: with ``--objects-dir``, each object written (``PUT``) is copied there, each deleted one
removed, and the copies are put back into the new bucket before it is ready, as R2 keeps them.
The photos' bucket is not copied: an upload in flight when moto dies is lost (its record expires
as any unfinished upload does; the page uploads again).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from stack.processes import announce_ready

REGION = "us-east-1"
ACCESS_KEY = "stack-access-key"
SECRET_KEY = "stack-secret-key"  # noqa: S105 - moto accepts any credentials
STATS_PATH = "/_stack/stats"

StartResponse = Callable[..., Any]


class CountingApp:
    """WSGI middleware: counts each request by service and action before moto answers it."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH:
            with self._lock:
                body = json.dumps({"requests": dict(self.counts)}).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("AmazonSQS."):
            key = "sqs:" + target.split(".", 1)[1]
        elif "Action=" in environ.get("QUERY_STRING", ""):
            key = "sqs:" + environ["QUERY_STRING"].split("Action=", 1)[1].split("&", 1)[0]
        else:
            key = f"s3:{environ.get('REQUEST_METHOD', '?')}"
        with self._lock:
            self.counts[key] += 1
        return self._app(environ, start_response)


class ObjectCopies:
    """WSGI middleware: a copy on disk of every object written to ``bucket`` (body and headers),
    removed when the object is deleted; :meth:`restore` puts them back into a new moto."""

    def __init__(
        self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]], bucket: str, root: Path
    ) -> None:
        self._app = app
        self._prefix = f"/{bucket}/"
        self.bucket = bucket
        self.root = root
        self.s3: Any = None  # set once the server listens
        self.restoring = False

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        if (
            method not in ("PUT", "DELETE")
            or not path.startswith(self._prefix)
            or environ.get("QUERY_STRING")
        ):
            return self._app(environ, start_response)
        sent = b""
        if method == "PUT":  # the body as sent: copied as is unless signed in chunks (aws-chunked)
            sent = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(sent)
        answered: list[str] = []

        def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
            answered.append(status)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = list(self._app(environ, capture))
        if answered and answered[0][:1] == "2" and not self.restoring:
            key = unquote(path[len(self._prefix) :])
            chunked = "aws-chunked" in environ.get("HTTP_CONTENT_ENCODING", "") or environ.get(
                "HTTP_X_AMZ_CONTENT_SHA256", ""
            ).startswith("STREAMING")
            if method == "PUT" and not chunked:
                meta = {
                    "ContentType": environ.get("CONTENT_TYPE"),
                    "CacheControl": environ.get("HTTP_CACHE_CONTROL"),
                }
                self._write(key, sent, meta)
            elif method == "PUT":
                self._copy(key)
            else:
                for suffix in ("", ".meta.json"):
                    (self.root / (key + suffix)).unlink(missing_ok=True)
        return body

    def _copy(self, key: str) -> None:
        found = self.s3.get_object(Bucket=self.bucket, Key=key)
        meta = {"ContentType": found.get("ContentType"), "CacheControl": found.get("CacheControl")}
        self._write(key, found["Body"].read(), meta)

    def _write(self, key: str, data: bytes, meta: dict[str, str | None]) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        (self.root / (key + ".meta.json")).write_text(json.dumps(meta))
        target.write_bytes(data)

    def restore(self) -> int:
        """Put every copy back into the bucket; how many."""
        self.restoring = True  # what is put back is already copied
        restored = 0
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.name.endswith(".meta.json"):
                continue
            key = path.relative_to(self.root).as_posix()
            meta_path = self.root / (key + ".meta.json")
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
            extra = {k: v for k, v in meta.items() if v}
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=path.read_bytes(), **extra)
            restored += 1
        self.restoring = False
        return restored


def _s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    ).client(
        "s3",
        endpoint_url=endpoint,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=2,
            read_timeout=10,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def create_resources(endpoint: str, plan: dict[str, Any], visibility_timeout: int | None) -> dict[str, Any]:
    """The buckets (the images', and the template's own: the photos') and every queue with its DLQ
    and redrive policy, as declared: the lanes' and the template functions' (the photo checks')."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    for bucket in [plan["bucket"], *plan.get("buckets", {}).values()]:
        s3.create_bucket(Bucket=bucket)
    sqs = session.client("sqs", endpoint_url=endpoint)
    queues: dict[str, Any] = {}
    for lane in [*plan["lanes"], *plan.get("functions", [])]:
        dlq_url = sqs.create_queue(
            QueueName=lane["dlq_name"], Attributes={"MessageRetentionPeriod": "1209600"}
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        visibility = lane["visibility_timeout_s"] if visibility_timeout is None else visibility_timeout
        url = sqs.create_queue(
            QueueName=lane["queue_name"],
            Attributes={
                "VisibilityTimeout": str(visibility),
                "MessageRetentionPeriod": str(lane["retention_s"]),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(lane["max_receive_count"])}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[lane["lane"]] = {
            "url": url,
            "arn": arn,
            "dlq_url": dlq_url,
            "visibility_timeout_s": visibility,
        }
    return queues


class PublicBucket:
    """WSGI app: the bucket's public domain (R2 with public access on). Anonymous ``GET``/``HEAD``
    of ``/<key>`` answers the object, read through the S3 API with the stack's credentials."""

    def __init__(self, endpoint: str, bucket: str) -> None:
        self.bucket = bucket
        self._s3 = _s3_client(endpoint)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        method = environ.get("REQUEST_METHOD", "GET")
        key = unquote(environ.get("PATH_INFO", "")).lstrip("/")
        if method not in ("GET", "HEAD"):
            return _plain(
                start_response, "405 Method Not Allowed", b"Method Not Allowed\n", [("Allow", "GET, HEAD")]
            )
        if not key:
            return _plain(start_response, "404 Not Found", b"Not Found\n")  # no listing, as R2
        try:
            found = self._s3.get_object(Bucket=self.bucket, Key=key)
            body: bytes = found["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return _plain(start_response, "404 Not Found", b"Not Found\n")
            return _plain(start_response, "502 Bad Gateway", b"Bad Gateway\n")
        except BotoCoreError:
            return _plain(start_response, "502 Bad Gateway", b"Bad Gateway\n")
        headers = [
            ("Content-Type", found.get("ContentType") or "application/octet-stream"),
            ("Content-Length", str(len(body))),
        ]
        if found.get("CacheControl"):
            headers.append(("Cache-Control", found["CacheControl"]))
        if found.get("ETag"):
            headers.append(("ETag", found["ETag"]))
        start_response("200 OK", headers)
        return [b""] if method == "HEAD" else [body]


def _plain(
    start_response: StartResponse, status: str, body: bytes, extra: list[tuple[str, str]] | None = None
) -> Iterable[bytes]:
    start_response(
        status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), *(extra or [])]
    )
    return [body]


def _serve(app: Any, port: int, name: str) -> Any:
    """A threaded WSGI server on 127.0.0.1:``port`` (0: a free one), serving in a daemon thread.
    A port given again after a crash may be held for a moment by the dead process's sockets."""
    from werkzeug.serving import make_server

    for attempt in range(50):
        try:
            server = make_server("127.0.0.1", port, app, threaded=True)
            break
        except OSError:
            if port == 0 or attempt == 49:
                raise
            time.sleep(0.1)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.aws", description=__doc__.split("\n")[0])
    parser.add_argument("--plan", type=Path, required=True, help="the declarations, as JSON")
    parser.add_argument("--visibility-timeout", type=int, default=None, help="override the declared one")
    parser.add_argument("--port", type=int, default=0, help="moto's port (default: a free one)")
    parser.add_argument("--public-port", type=int, default=0, help="the bucket's public domain's port")
    parser.add_argument("--objects-dir", type=Path, default=None, help="keep a copy of the bucket here")
    args = parser.parse_args(argv)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request (the counts are kept)
    plan = json.loads(args.plan.read_text())
    moto: Any = DomainDispatcherApplication(create_backend_app)
    copies = None
    if args.objects_dir is not None:
        args.objects_dir.mkdir(parents=True, exist_ok=True)
        moto = copies = ObjectCopies(moto, plan["bucket"], args.objects_dir)
    app = CountingApp(moto)
    server = _serve(app, args.port, "moto")
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    queues = create_resources(endpoint, plan, args.visibility_timeout)
    if copies is not None:
        copies.s3 = _s3_client(endpoint)
        restored = copies.restore()
        if restored:
            print(f"{restored} objects put back into the bucket", flush=True)
    public = _serve(PublicBucket(endpoint, plan["bucket"]), args.public_port, "public-bucket")
    with app._lock:
        app.counts.clear()  # count what the stack does, not its setup
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    announce_ready(
        endpoint=endpoint,
        public_url=f"http://127.0.0.1:{public.server_address[1]}",
        region=REGION,
        bucket=plan["bucket"],
        buckets=plan.get("buckets", {}),
        queues=queues,
    )
    stop.wait()
    public.shutdown()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
